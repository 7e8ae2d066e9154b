/**
 * Who asks and whose credits pay: shared by admission, credits, quotas, the queue and every
 * frontend, so it lives apart from all of them.
 */

/** A credit scope: a Discord guild, a Slack workspace, an API key, or the local operator (CLI). */
export type ScopeKind = 'discord' | 'slack' | 'api' | 'cli';
export interface ScopeRef {
  kind: ScopeKind;
  id: string;
}

/** Who asked. `roles` are the platform's role ids (Discord) used for quota tiers. */
export interface MemberRef {
  scope: ScopeRef;
  userId: string;
  roles?: string[];
  displayName?: string;
}

/** Someone acting as a scope's admin. Frontends check platform permissions and set `isAdmin`. */
export interface AdminActor {
  member: MemberRef;
  isAdmin: boolean;
}
