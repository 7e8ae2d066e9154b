import { type FieldError, refusedField, UserError } from '../errors/user-error.ts';
import type { AdminActor, MemberRef } from '../members/member-ref.ts';
import { effectiveLimits } from '../quotas/quota-policy.ts';
import type { QuotaStore } from '../quotas/quota-store.ts';
import { assertScopeAdmin, scopeNoun } from '../quotas/scope-admin.ts';
import { GENERATE_QUEUE, type StateKeys } from '../state/keys.ts';
import type { ScriptedRedis } from '../state/scripts.ts';
import { OPEN_RESERVATION_FIELD } from './reservations.ts';
import type { Balance, LedgerEntry, LedgerKind } from './types.ts';
import { fromMilli, nextUtcMidnight, toMilli, utcDay } from './units.ts';

export const MAX_GRANT = 1_000_000;

/** A grant's amount outside 1..MAX_GRANT, named as typed (an admin's text, or a program's JSON). */
export function grantAmountRefused(typed: unknown): FieldError {
  return refusedField('amount', {
    reason: 'out-of-range',
    setting: 'amount',
    unit: 'credits',
    min: 1,
    max: MAX_GRANT,
    // A missing amount has no JSON.
    got: JSON.stringify(typed) ?? String(typed),
  });
}
/** Ledger entries looked through for jobs still pending: a member's pending cap is small. */
const PENDING_LOOKBACK = 50;
const MAX_REASON = 200;

export interface CreditStoreDeps {
  redis: ScriptedRedis;
  keys: StateKeys;
  quotas: QuotaStore;
  clock: () => number;
  ledgerMaxLen: number;
}

/** Balances, the ledger and grants. Reservations are made by admission and settled in reservations.ts. */
export class CreditStore {
  constructor(private readonly deps: CreditStoreDeps) {}

  /**
   * What the member can spend now. Reads only (plus remembering that the member exists): today's
   * allowance is worked out from the tier even before the member's first request of the day.
   */
  async balance(member: MemberRef): Promise<Balance> {
    assertMember(member);
    const { redis, keys, quotas, clock } = this.deps;
    const now = clock();
    const [policy, fields] = await Promise.all([
      quotas.policy(member.scope),
      redis.hget(keys.forMember(member).member, 'state'),
      redis.sadd(keys.members(member.scope), member.userId),
    ]);
    const { granted: grantedMilli, day, spent, reserved } = parseMemberState(fields);
    const allowance = toMilli(effectiveLimits(policy, member.roles).dailyAllowance);
    const spentToday = day === utcDay(now) ? spent : 0;
    const allowanceLeft = Math.max(0, allowance - spentToday);
    return {
      dailyAllowance: fromMilli(allowance),
      allowanceLeft: fromMilli(allowanceLeft),
      granted: fromMilli(grantedMilli),
      total: fromMilli(allowanceLeft + grantedMilli),
      reserved: fromMilli(reserved),
      resetsAt: nextUtcMidnight(now),
    };
  }

  /** The member's latest ledger entries, newest first. */
  async history(member: MemberRef, n = 20): Promise<LedgerEntry[]> {
    assertMember(member);
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      throw UserError.invalid([
        { field: 'count', message: `count must be a whole number from 1 to 1000 (got ${n})` },
      ]);
    }
    const { redis, keys } = this.deps;
    const [, entries] = await Promise.all([
      redis.sadd(keys.members(member.scope), member.userId),
      redis.xrevrange(keys.forMember(member).ledger, '+', '-', 'COUNT', n),
    ]);
    return entries.map(([id, flat]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i] as string] = flat[i + 1] as string;
      return {
        id,
        at: Number(f.at),
        kind: f.kind as LedgerKind,
        amount: fromMilli(f.amount ?? 0),
        balance: fromMilli(f.balance ?? 0),
        jobId: f.jobId || undefined,
        by: f.by ?? '',
        reason: f.reason ?? '',
      };
    });
  }

  /**
   * The member's jobs whose reservation is still open (queued or rendering), oldest first: the
   * jobs of their recent "reserve" ledger entries, checked in one round trip.
   */
  async pending(member: MemberRef, max: number): Promise<string[]> {
    const reserved = [
      ...new Set(
        (await this.history(member, PENDING_LOOKBACK)).flatMap((entry) =>
          entry.kind === 'reserve' && entry.jobId ? [entry.jobId] : [],
        ),
      ),
    ].reverse();
    const { redis, keys } = this.deps;
    const open = await Promise.all(
      reserved.map((id) => redis.hexists(keys.queueKey(GENERATE_QUEUE, id), OPEN_RESERVATION_FIELD)),
    );
    return reserved.filter((_, i) => open[i] === 1).slice(0, max);
  }

  async grant(admin: AdminActor, member: MemberRef, amount: number, reason: string): Promise<Balance> {
    assertScopeAdmin(admin, member.scope);
    assertMember(member);
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1 || amount > MAX_GRANT) {
      throw UserError.invalid([grantAmountRefused(amount)]);
    }
    if (typeof reason !== 'string' || reason.length > MAX_REASON) {
      throw UserError.invalid([
        { field: 'reason', message: `reason must have at most ${MAX_REASON} characters` },
      ]);
    }
    const { redis, keys, clock, ledgerMaxLen } = this.deps;
    const memberKeys = keys.forMember(member);
    const reply = (await redis.easelGrant(
      memberKeys.member,
      memberKeys.ledger,
      keys.members(member.scope),
      member.userId,
      clock(),
      toMilli(amount),
      ledgerMaxLen,
      admin.member.userId,
      reason.trim() || 'granted by an admin',
    )) as string[];
    if (reply[0] === 'unknown') {
      throw UserError.refused({
        reason: 'unknown-member',
        member: member.displayName ?? member.userId,
        scopeNoun: scopeNoun(member.scope),
      });
    }
    return this.balance(member);
  }
}

/** A member reference a frontend built from a mention or an API key: it must name someone. */
export function assertMember(member: MemberRef): void {
  const id = member?.userId;
  if (typeof id !== 'string' || id.trim() === '' || id.length > 100 || /[\s:]/.test(id)) {
    throw UserError.invalid([
      {
        field: 'member',
        message: `member must be a user id of 1 to 100 characters without spaces or colons (got ${JSON.stringify(id)})`,
      },
    ]);
  }
  const scope = member.scope;
  if (!scope || typeof scope.id !== 'string' || scope.id.trim() === '' || /[\s:]/.test(scope.id)) {
    throw UserError.invalid([{ field: 'scope', message: 'scope must name a server, workspace or API key' }]);
  }
}

/**
 * A member's numbers, one field of their hash (admit-batch.lua, settle-7.lua and grant-3.lua keep
 * it): "<granted> <day> <allowance> <spent> <reserved> <pending> <lastAt>", milli-credits.
 */
export function parseMemberState(text: string | null): {
  granted: number;
  day: number;
  spent: number;
  reserved: number;
} {
  const [granted = 0, day = 0, , spent = 0, reserved = 0] = (text ?? '').split(' ').map(Number);
  return { granted, day, spent, reserved };
}
