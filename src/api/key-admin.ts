import type { Services } from '../app/services.ts';
import type { Balance } from '../credits/types.ts';
import type { MemberRef } from '../members/member-ref.ts';
import type { QuotaChanges } from '../quotas/quota-policy.ts';
import { type ApiKeyStore, apiKeyScope, type CreatedApiKey, type KeyRate } from './key-store.ts';

/**
 * What `easel keys create` does: a key, and its credit scope set up in the admission system. By
 * default an API key gets no free daily allowance (it spends exactly the credits granted to it);
 * `allowance` gives it one, like a chat member's (spent first, reset at 00:00 UTC), and `daily` caps
 * what it may spend per UTC day, allowance and granted credits together.
 */

export interface NewKeyOptions {
  name: string;
  credits: number;
  /** Credits the key may spend per UTC day; 0 or absent: no daily cap. */
  daily?: number;
  /** Free credits the key gets each UTC day, spent before granted ones; 0 or absent: none. */
  allowance?: number;
  webhookSecret?: boolean;
  /** Seconds between two requests of the key (default: none). */
  cooldownS?: number;
  /** Jobs of the key queued or rendering at once (default: no cap). */
  pendingCap?: number;
  /** Generation requests per window (default: no limit). */
  rate?: KeyRate;
}

/** The operator, acting as admin of the key's own scope. */
function operatorOf(member: MemberRef) {
  return { member, isAdmin: true };
}

export function keyMember(keyId: string, name?: string): MemberRef {
  return { scope: apiKeyScope(keyId), userId: keyId, ...(name ? { displayName: name } : {}) };
}

export async function createKeyWithCredits(
  services: Services,
  keys: ApiKeyStore,
  options: NewKeyOptions,
): Promise<CreatedApiKey & { balance: Balance }> {
  const created = await keys.create({
    name: options.name,
    webhookSecret: options.webhookSecret === true,
    ...(options.rate ? { rate: options.rate } : {}),
  });
  const member = keyMember(created.record.id, created.record.name);
  try {
    const changes: QuotaChanges = { dailyAllowance: options.allowance ?? 0, dailyCap: options.daily ?? 0 };
    if (options.cooldownS !== undefined) changes.cooldownS = options.cooldownS;
    if (options.pendingCap !== undefined) changes.pendingCap = options.pendingCap;
    await services.quotas.set(operatorOf(member), member.scope, changes);
    // Makes the key a member of its scope, which a grant requires.
    await services.credits.balance(member);
    const balance =
      options.credits > 0
        ? await services.credits.grant(
            operatorOf(member),
            member,
            options.credits,
            'credits of a new API key',
          )
        : await services.credits.balance(member);
    return { ...created, balance };
  } catch (error) {
    // A key whose credits could not be set up must not stay usable.
    await keys.revoke(created.record.id);
    throw error;
  }
}

/** Adds credits to an existing key (`easel keys credit`). */
export async function creditKey(services: Services, keyId: string, amount: number): Promise<Balance> {
  const member = keyMember(keyId);
  await services.credits.balance(member);
  return services.credits.grant(operatorOf(member), member, amount, 'credits added by the operator');
}
