import type { Config } from '../config/schema.ts';
import { type FieldError, refusedField, UserError } from '../errors/user-error.ts';
import type { AdminActor, ScopeKind, ScopeRef } from '../members/member-ref.ts';
import { normalizeBannedWord } from '../request/words.ts';
import type { StateKeys } from '../state/keys.ts';
import type { ScriptedRedis } from '../state/scripts.ts';
import {
  defaultPolicy,
  MAX_PRIORITY,
  MAX_STEPS_LIMIT,
  NSFW_POLICIES,
  type QuotaChanges,
  type QuotaPolicy,
  type QuotaView,
  type Tier,
} from './quota-policy.ts';
import { assertScopeAdmin } from './scope-admin.ts';

/**
 * Quota policies per scope. Only what an admin set is stored; everything else follows the
 * configuration's defaults, so changing DEFAULT_* later still reaches scopes that never set them.
 */
type StoredPolicy = Partial<Omit<QuotaPolicy, 'tiers'>> & { tiers?: Tier[] };

export const MAX_TIERS = 25;
export const MAX_BANNED_WORDS = 500;
const MAX_ID_LENGTH = 100;

interface Range {
  min: number;
  max: number;
}

export class QuotaStore {
  private readonly ranges: Record<
    'dailyAllowance' | 'cooldownS' | 'pendingCap' | 'maxPixels' | 'maxSteps' | 'dailyCap' | 'priority',
    Range
  >;

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: StateKeys,
    private readonly config: Config,
  ) {
    this.ranges = {
      dailyAllowance: { min: 0, max: 1_000_000 },
      cooldownS: { min: 0, max: 86_400 },
      pendingCap: { min: 1, max: 1000 },
      maxPixels: { min: 320 * 320, max: config.MAX_PIXELS },
      maxSteps: { min: 1, max: MAX_STEPS_LIMIT },
      dailyCap: { min: 0, max: 1_000_000_000 },
      priority: { min: 0, max: MAX_PRIORITY },
    };
  }

  /** The defaults every scope starts from, as the admission script receives them. */
  /** The settings of a scope of this kind whose admins set none. */
  defaults(kind?: ScopeKind): QuotaPolicy {
    return defaultPolicy(this.config, kind);
  }

  async policy(scope: ScopeRef): Promise<QuotaPolicy> {
    const stored = await this.redis.get(this.keys.policy(scope));
    return { ...this.defaults(scope.kind), ...(stored ? (JSON.parse(stored) as StoredPolicy) : {}) };
  }

  async get(scope: ScopeRef): Promise<QuotaView> {
    const [policy, suspended] = await Promise.all([
      this.policy(scope),
      this.redis.smembers(this.keys.suspended(scope)),
    ]);
    return { ...policy, suspended: suspended.sort() };
  }

  async set(admin: AdminActor, scope: ScopeRef, changes: QuotaChanges): Promise<QuotaView> {
    assertScopeAdmin(admin, scope);
    const errors = this.validate(changes);
    if (errors.length > 0) throw UserError.invalid(errors);

    const key = this.keys.policy(scope);
    for (let attempt = 0; attempt < 10; attempt++) {
      const before = (await this.redis.get(key)) ?? '';
      const next = applyChanges(before ? (JSON.parse(before) as StoredPolicy) : {}, changes);
      const tierCount = next.tiers?.length ?? 0;
      if (tierCount > MAX_TIERS) {
        throw UserError.invalid([
          refusedField('tiers', { reason: 'too-many', setting: 'tiers', max: MAX_TIERS, unit: 'tiers' }),
        ]);
      }
      if ((next.bannedWords?.length ?? 0) > MAX_BANNED_WORDS) {
        throw UserError.invalid([
          refusedField('bannedWords', {
            reason: 'too-many',
            setting: 'bannedWords',
            max: MAX_BANNED_WORDS,
            unit: 'words',
          }),
        ]);
      }
      const replaced = await this.redis.easelReplacePolicy(key, before, JSON.stringify(next));
      if (Number(replaced) === 1) break;
      if (attempt === 9) throw new Error('quota policy kept changing while being set');
    }
    const suspendedKey = this.keys.suspended(scope);
    if (changes.suspend?.length) await this.redis.sadd(suspendedKey, ...changes.suspend);
    if (changes.unsuspend?.length) await this.redis.srem(suspendedKey, ...changes.unsuspend);
    return this.get(scope);
  }

  /** Every bad value named with its allowed range, all at once. */
  validate(changes: QuotaChanges): FieldError[] {
    const errors: FieldError[] = [];
    const checkInt = (field: string, value: unknown, range: Range) => {
      if (value === undefined) return;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
        errors.push(
          refusedField(field, {
            reason: 'out-of-range',
            setting: field,
            min: range.min,
            max: range.max,
            got: JSON.stringify(value),
          }),
        );
      }
    };
    const r = this.ranges;
    checkInt('dailyAllowance', changes.dailyAllowance, r.dailyAllowance);
    checkInt('cooldownS', changes.cooldownS, r.cooldownS);
    checkInt('pendingCap', changes.pendingCap, r.pendingCap);
    checkInt('maxPixels', changes.maxPixels, r.maxPixels);
    checkInt('maxSteps', changes.maxSteps, r.maxSteps);
    checkInt('dailyCap', changes.dailyCap, r.dailyCap);
    if (changes.nsfw !== undefined && !NSFW_POLICIES.includes(changes.nsfw)) {
      const typed = changes.nsfw as unknown;
      errors.push(
        refusedField('nsfw', {
          reason: 'unknown-choice',
          setting: 'nsfw',
          typed: typeof typed === 'string' ? typed : JSON.stringify(typed),
          choices: NSFW_POLICIES,
        }),
      );
    }
    for (const word of [...(changes.bannedWords?.add ?? []), ...(changes.bannedWords?.remove ?? [])]) {
      if (typeof word !== 'string' || normalizeBannedWord(word) === '' || word.length > 100) {
        errors.push(refusedField('bannedWords', { reason: 'bad-banned-word', got: JSON.stringify(word) }));
      }
    }
    for (const [index, tier] of (changes.tiers?.set ?? []).entries()) {
      const at = `tiers[${index}]`;
      if (typeof tier.role !== 'string' || tier.role.trim() === '' || tier.role.length > MAX_ID_LENGTH) {
        errors.push({
          field: `${at}.role`,
          message: `${at}.role must be a role id of 1 to ${MAX_ID_LENGTH} characters`,
        });
      }
      checkInt(`${at}.dailyAllowance`, tier.dailyAllowance, r.dailyAllowance);
      checkInt(`${at}.cooldownS`, tier.cooldownS, r.cooldownS);
      checkInt(`${at}.pendingCap`, tier.pendingCap, r.pendingCap);
      checkInt(`${at}.maxPixels`, tier.maxPixels, r.maxPixels);
      checkInt(`${at}.maxSteps`, tier.maxSteps, r.maxSteps);
      checkInt(`${at}.priority`, tier.priority, r.priority);
    }
    for (const [field, ids] of [
      ['suspend', changes.suspend],
      ['unsuspend', changes.unsuspend],
      ['tiers.remove', changes.tiers?.remove],
    ] as const) {
      for (const id of ids ?? []) {
        if (typeof id !== 'string' || id.trim() === '' || id.length > MAX_ID_LENGTH) {
          errors.push(
            refusedField(field, {
              reason: 'bad-id',
              setting: field,
              max: MAX_ID_LENGTH,
              got: JSON.stringify(id),
            }),
          );
        }
      }
    }
    return errors;
  }
}

function applyChanges(stored: StoredPolicy, changes: QuotaChanges): StoredPolicy {
  const next: StoredPolicy = { ...stored };
  for (const field of [
    'dailyAllowance',
    'cooldownS',
    'pendingCap',
    'maxPixels',
    'maxSteps',
    'dailyCap',
  ] as const) {
    const value = changes[field];
    if (value !== undefined) next[field] = value;
  }
  if (changes.nsfw !== undefined) next.nsfw = changes.nsfw;
  if (changes.bannedWords) {
    const words = new Set(next.bannedWords ?? []);
    for (const word of changes.bannedWords.add ?? []) words.add(normalizeBannedWord(word));
    for (const word of changes.bannedWords.remove ?? []) words.delete(normalizeBannedWord(word));
    next.bannedWords = [...words].sort();
  }
  if (changes.tiers) {
    const byRole = new Map((next.tiers ?? []).map((tier) => [tier.role, tier]));
    for (const role of changes.tiers.remove ?? []) byRole.delete(role);
    for (const tier of changes.tiers.set ?? []) byRole.set(tier.role, pickTier(tier));
    next.tiers = [...byRole.values()];
  }
  return next;
}

/** Only known fields reach Redis (the Lua script reads them by name). */
function pickTier(tier: Tier): Tier {
  const picked: Tier = { role: tier.role };
  for (const field of [
    'dailyAllowance',
    'cooldownS',
    'pendingCap',
    'maxPixels',
    'maxSteps',
    'priority',
  ] as const) {
    if (tier[field] !== undefined) picked[field] = tier[field];
  }
  return picked;
}
