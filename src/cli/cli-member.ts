import { hostname, userInfo } from 'node:os';
import type { MemberRef } from '../members/member-ref.ts';

/**
 * Who `easel imagine` charges: the `cli` scope of this machine (one per host name), the operating
 * system user as the member. `easel credits` shows and grants the same member's credits.
 */
export function cliMember(): MemberRef {
  const user = userInfo().username;
  return { scope: { kind: 'cli', id: hostname() }, userId: user, displayName: user };
}
