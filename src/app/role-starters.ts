import type { Config, Role } from '../config/schema.ts';
import type { RoleStarter } from './role.ts';

/**
 * Where each role's starter lives. Loaded lazily so a GPU machine running only `worker` never
 * loads discord.js, and a bot-only machine never loads onnxruntime.
 */
const STARTERS: Record<Role, () => Promise<RoleStarter>> = {
  discord: async () => (await import('../platforms/discord/discord-role.ts')).startDiscordRole,
  slack: async () => (await import('../platforms/slack/slack-role.ts')).startSlackRole,
  api: async () => (await import('../api/api-role.ts')).startApiRole,
  worker: async () => (await import('../queue/worker-role.ts')).startWorkerRole,
  deliver: async () => {
    const { createDeliverRole } = await import('../delivery/deliver-role.ts');
    return createDeliverRole({
      discord: async (ctx) =>
        (await import('../platforms/discord/discord-deliverer.ts')).createDiscordDeliverer(ctx),
      slack: async (ctx) => (await import('../platforms/slack/deliver-slack.ts')).slackDeliverer(ctx),
      api: async (ctx) => (await import('../api/deliver-webhook.ts')).createWebhookDeliverer(ctx),
    });
  },
};

/** Roles this process runs: those in ROLES whose platform is enabled. */
export function rolesToRun(config: Config): Role[] {
  return config.ROLES.filter((role) => {
    if (role === 'discord' && !config.DISCORD_ENABLED) return false;
    if (role === 'slack' && !config.SLACK_ENABLED) return false;
    if (role === 'api' && !config.API_ENABLED) return false;
    return true;
  }) as Role[];
}

export async function loadRoleStarter(role: Role): Promise<RoleStarter> {
  return STARTERS[role]();
}
