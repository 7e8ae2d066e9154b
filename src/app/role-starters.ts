import type { Config, Role } from '../config/schema.ts';
import type { RoleStarter } from './role.ts';

/**
 * Where each role's starter lives. Loaded lazily so a GPU machine running only `worker` never
 * loads discord.js, and a bot-only machine never loads onnxruntime.
 */
const STARTERS: Partial<Record<Role, () => Promise<RoleStarter>>> = {};

/** Roles this process runs: those in ROLES whose platform is enabled and whose code exists. */
export function rolesToRun(config: Config): Role[] {
  return config.ROLES.filter((role) => {
    if (role === 'discord' && !config.DISCORD_ENABLED) return false;
    if (role === 'slack' && !config.SLACK_ENABLED) return false;
    if (role === 'api' && !config.API_ENABLED) return false;
    return true;
  }) as Role[];
}

export function availableRoles(): Role[] {
  return Object.keys(STARTERS) as Role[];
}

export async function loadRoleStarter(role: Role): Promise<RoleStarter | undefined> {
  return STARTERS[role]?.();
}
