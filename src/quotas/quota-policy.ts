import type { Config } from '../config/schema.ts';
import type { ScopeKind } from '../members/member-ref.ts';

/**
 * A scope's quota policy (Discord guild, Slack workspace, API key, CLI operator), set by the scope's
 * admins. Stored as one JSON document per scope so the admission script reads it in the same
 * atomic step as the balances it guards.
 */
export const NSFW_POLICIES = ['block', 'spoiler', 'allow-in-nsfw-channels'] as const;
export type NsfwPolicy = (typeof NSFW_POLICIES)[number];

/** Limits that depend on a member's role. Every field is optional: absent means "the scope default". */
export interface Tier {
  /** Platform role id (Discord role, or any label a frontend passes in `MemberRef.roles`). */
  role: string;
  dailyAllowance?: number;
  cooldownS?: number;
  pendingCap?: number;
  /** Largest image (width x height, display pixels). */
  maxPixels?: number;
  maxSteps?: number;
  /** 0-9, higher runs sooner among jobs of the same fairness rank. */
  priority?: number;
}

export interface QuotaPolicy {
  dailyAllowance: number;
  cooldownS: number;
  pendingCap: number;
  maxPixels: number;
  maxSteps: number;
  /** Credits the whole scope may spend per UTC day; 0 = no cap. */
  dailyCap: number;
  nsfw: NsfwPolicy;
  /** Normalized (lower case, words separated by one space) banned words and phrases. */
  bannedWords: string[];
  tiers: Tier[];
}

/** What a member's roles resolve to: the most generous value of each field across matching tiers. */
export interface EffectiveLimits {
  dailyAllowance: number;
  cooldownS: number;
  pendingCap: number;
  maxPixels: number;
  maxSteps: number;
  priority: number;
}

export const MAX_PRIORITY = 9;
export const MAX_STEPS_LIMIT = 150;

/** An API key's pending cap where none is set on it: in effect none (its credits bound it). */
const API_KEY_PENDING_CAP = 1_000_000_000;

/**
 * A scope's settings where its admins set none. The cooldown spaces a chat member's prompts; the
 * CLI scope (the operator's own terminal) and API keys (programs, which send requests back to back
 * and have their own limits set on the key) have none unless one is set. API keys have no pending
 * cap either unless one is set on the key: a program sends a batch at once, and its credits (and its
 * rate, `keys create --rate`) already bound what it may queue. The allowance and the rest are the
 * deployment's defaults for every kind.
 */
export function defaultPolicy(config: Config, kind?: ScopeKind): QuotaPolicy {
  return {
    dailyAllowance: config.DEFAULT_DAILY_ALLOWANCE,
    cooldownS: kind === 'cli' || kind === 'api' ? 0 : config.DEFAULT_COOLDOWN_S,
    pendingCap: kind === 'api' ? API_KEY_PENDING_CAP : config.DEFAULT_PENDING_CAP,
    maxPixels: config.MAX_PIXELS,
    maxSteps: MAX_STEPS_LIMIT,
    dailyCap: 0,
    nsfw: 'block',
    bannedWords: [],
    tiers: [],
  };
}

/**
 * Resolves a member's limits from their roles. When tiers match, each field takes the most generous
 * value among the matching tiers that set it (so a "supporter" role can raise limits and a
 * "newcomer" role can lower them); fields no matching tier sets keep the scope default.
 * Pure mirror of the resolution in lua/admit-*.lua, which is authoritative for admissions.
 */
export function effectiveLimits(policy: QuotaPolicy, roles: readonly string[] = []): EffectiveLimits {
  const matching = policy.tiers.filter((tier) => roles.includes(tier.role));
  const most = (
    pick: (t: Tier) => number | undefined,
    fallback: number,
    better: (a: number, b: number) => number,
  ) => {
    const values = matching.map(pick).filter((v): v is number => v !== undefined);
    return values.length === 0 ? fallback : values.reduce((a, b) => better(a, b));
  };
  return {
    dailyAllowance: most((t) => t.dailyAllowance, policy.dailyAllowance, Math.max),
    cooldownS: most((t) => t.cooldownS, policy.cooldownS, Math.min),
    pendingCap: most((t) => t.pendingCap, policy.pendingCap, Math.max),
    maxPixels: most((t) => t.maxPixels, policy.maxPixels, Math.max),
    maxSteps: most((t) => t.maxSteps, policy.maxSteps, Math.max),
    priority: most((t) => t.priority, 0, Math.max),
  };
}

/** What an admin may change in one `quota set` (every field optional). */
export interface QuotaChanges {
  dailyAllowance?: number;
  cooldownS?: number;
  pendingCap?: number;
  maxPixels?: number;
  maxSteps?: number;
  dailyCap?: number;
  nsfw?: NsfwPolicy;
  bannedWords?: { add?: string[]; remove?: string[] };
  /** Tiers to create or replace (by role), and roles whose tier to delete. */
  tiers?: { set?: Tier[]; remove?: string[] };
  /** User ids to suspend or reinstate in this scope. */
  suspend?: string[];
  unsuspend?: string[];
}

/** A policy as shown to admins: the stored policy plus the suspended members. */
export interface QuotaView extends QuotaPolicy {
  suspended: string[];
}
