import { UserError } from '../errors/user-error.ts';
import type { AdminActor, ScopeRef } from '../members/member-ref.ts';

/** How members call a scope: a Discord "server", a Slack "workspace". */
export function scopeNoun(scope: ScopeRef): string {
  switch (scope.kind) {
    case 'discord':
      return 'server';
    case 'slack':
      return 'workspace';
    case 'api':
      return 'API key';
    case 'cli':
      return 'installation';
  }
}

/**
 * Frontends check platform permissions (Discord Manage Guild, SLACK_ADMINS, the API's admin keys)
 * and say so in `isAdmin`; this checks it again where the change is made, and that the admin acts
 * on their own scope only (an admin of guild A has no say in guild B).
 */
export function assertScopeAdmin(admin: AdminActor, scope: ScopeRef): void {
  const sameScope = admin.member.scope.kind === scope.kind && admin.member.scope.id === scope.id;
  if (!admin.isAdmin || !sameScope) {
    throw UserError.refused({ reason: 'not-admin', scopeNoun: scopeNoun(scope) });
  }
}
