import type { MemberRef, ScopeRef } from '../members/member-ref.ts';

/**
 * Every key easel keeps in Redis beside BullMQ's own (admission, credits, quotas, the queues'
 * names), under BullMQ's prefix, for every module that reads or writes them. The prefix carries a
 * hash tag (`{easel}`) so these keys and the queue's own live in one Redis Cluster slot and one
 * Lua script may touch both.
 */
export const GENERATE_QUEUE = 'generate';
export const DELIVER_QUEUE = 'deliver';

export function scopeKey(scope: ScopeRef): string {
  return `${scope.kind}:${scope.id}`;
}

export interface MemberKeys {
  member: string;
  ledger: string;
}

export class StateKeys {
  constructor(readonly prefix: string) {}

  forMember(member: MemberRef): MemberKeys {
    const base = `${scopeKey(member.scope)}:${member.userId}`;
    return this.forMemberParts(scopeKey(member.scope), member.userId, base);
  }

  /** For records that stored the scope key and user id (reservations). */
  forMemberParts(scope: string, userId: string, base = `${scope}:${userId}`): MemberKeys {
    return {
      member: `${this.prefix}:member:${base}`,
      ledger: `${this.prefix}:ledger:${base}`,
    };
  }

  /** A settled reservation (an open one is a line on its job's hash; see admit-batch.lua). */
  reservation(jobId: string): string {
    return `${this.prefix}:reservation:${jobId}`;
  }

  /** Reservation lines not yet committed or refunded, scored by creation time (for the sweeper). */
  get openReservations(): string {
    return `${this.prefix}:reservations`;
  }

  policy(scope: ScopeRef | string): string {
    return `${this.prefix}:policy:${typeof scope === 'string' ? scope : scopeKey(scope)}`;
  }

  suspended(scope: ScopeRef | string): string {
    return `${this.prefix}:suspended:${typeof scope === 'string' ? scope : scopeKey(scope)}`;
  }

  members(scope: ScopeRef | string): string {
    return `${this.prefix}:members:${typeof scope === 'string' ? scope : scopeKey(scope)}`;
  }

  scopeSpent(scope: ScopeRef | string, day: number): string {
    return `${this.prefix}:scope-spent:${typeof scope === 'string' ? scope : scopeKey(scope)}:${day}`;
  }

  /** `/settings`: a member's own defaults, or (without a user) the scope's, as one hash each. */
  settings(scope: ScopeRef, userId?: string): string {
    return `${this.prefix}:settings:${scopeKey(scope)}${userId === undefined ? '' : `:${userId}`}`;
  }

  /** A permutation or --repeat batch waiting for its member's confirmation. */
  pendingBatch(batchId: string): string {
    return `${this.prefix}:batch:${batchId}`;
  }

  cancel(jobId: string): string {
    return `${this.prefix}:cancel:${jobId}`;
  }

  /** Moving averages of processing time per model and size. */
  get durations(): string {
    return `${this.prefix}:durations`;
  }

  /** A Vary (Region) link's grant: who may submit once, and where the result goes (src/region-editor). */
  regionGrant(nonce: string): string {
    return `${this.prefix}:region-grant:${nonce}`;
  }

  /** The Vary (Region) signing key every host shares when REGION_EDITOR_SECRET is not set. */
  get regionSecret(): string {
    return `${this.prefix}:region-secret`;
  }

  queueKey(queue: string, suffix: string): string {
    return `${this.prefix}:${queue}:${suffix}`;
  }
}
