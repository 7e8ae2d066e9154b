import type { AdmissionKeys } from '../admission/keys.ts';
import type { ScriptedRedis } from '../admission/scripts.ts';
import { creditsRefundedTotal, creditsSpentTotal } from '../metrics/metrics.ts';
import { fromMilli } from './units.ts';

/**
 * Settles reservations made at admission: commit once on success, refund once on final failure or
 * cancel. Safe to call any number of times for a job.
 */
/** Ledger entries kept per member (Redis stream MAXLEN ~). */
export const LEDGER_MAX_LEN = 1000;
/** A settled reservation outlives its BullMQ job this long (job status, idempotent repeats). */
export const SETTLED_TTL_S = 7 * 86_400;

export type SettleMode = 'commit' | 'refund';

export type SettleOutcome =
  | { kind: 'missing' }
  | { kind: 'already'; status: 'committed' | 'released' }
  | { kind: 'cancelled'; cost: number }
  | { kind: 'committed'; cost: number }
  | { kind: 'refunded'; returned: number; cost: number };

export interface ReservationRecord {
  jobId: string;
  status: 'reserved' | 'committed' | 'released';
  cost: number;
  scope: string;
  userId: string;
  day: number;
  createdAt: number;
  settledAt?: number;
  reason?: string;
  data?: string;
}

export interface ReservationsDeps {
  redis: ScriptedRedis;
  keys: AdmissionKeys;
  clock: () => number;
  ledgerMaxLen: number;
  /** How long a settled reservation is kept (job status after BullMQ removed the job). */
  settledTtlS: number;
}

const FIELDS = [
  'status',
  'cost',
  'scope',
  'userId',
  'day',
  'createdAt',
  'settledAt',
  'reason',
  'data',
] as const;

export class Reservations {
  constructor(private readonly deps: ReservationsDeps) {}

  async read(jobId: string, withData = false): Promise<ReservationRecord | undefined> {
    const fields: readonly (typeof FIELDS)[number][] = withData ? FIELDS : FIELDS.filter((f) => f !== 'data');
    const values = await this.deps.redis.hmget(this.deps.keys.reservation(jobId), ...fields);
    const get = (name: (typeof FIELDS)[number]) => values[fields.indexOf(name)] ?? undefined;
    const status = get('status');
    if (!status) return undefined;
    const settledAt = get('settledAt');
    return {
      jobId,
      status: status as ReservationRecord['status'],
      cost: fromMilli(get('cost') ?? 0),
      scope: get('scope') ?? '',
      userId: get('userId') ?? '',
      day: Number(get('day')),
      createdAt: Number(get('createdAt')),
      settledAt: settledAt ? Number(settledAt) : undefined,
      reason: get('reason'),
      data: get('data'),
    };
  }

  async settle(jobId: string, mode: SettleMode, reason: string, by = 'easel'): Promise<SettleOutcome> {
    const { redis, keys } = this.deps;
    // The script must be told every key it touches; the member's keys and the day come from the
    // record, so read it first and let the script check nothing moved (it returns "stale" if so).
    for (let tries = 0; tries < 3; tries++) {
      const [status, scope, userId, day] = await redis.hmget(
        keys.reservation(jobId),
        'status',
        'scope',
        'userId',
        'day',
      );
      if (!status || !scope || !userId || !day) return { kind: 'missing' };
      if (status !== 'reserved') return { kind: 'already', status: status as 'committed' | 'released' };
      const member = keys.forMemberParts(scope, userId);
      const reply = await redis.easelSettle(
        keys.reservation(jobId),
        keys.openReservations,
        member.member,
        member.pending,
        member.ledger,
        keys.scopeSpent(scope, Number(day)),
        keys.cancel(jobId),
        mode,
        jobId,
        this.deps.clock(),
        this.deps.ledgerMaxLen,
        this.deps.settledTtlS,
        day,
        reason.slice(0, 200),
        by,
      );
      const outcome = parseSettle(reply as (string | number)[]);
      if (outcome === 'stale') continue;
      if (outcome.kind === 'committed') creditsSpentTotal.inc(outcome.cost);
      if (outcome.kind === 'refunded') creditsRefundedTotal.inc(outcome.returned);
      return outcome;
    }
    throw new Error(`reservation ${jobId} kept changing while settling`);
  }
}

function parseSettle(reply: (string | number)[]): SettleOutcome | 'stale' {
  switch (reply[0]) {
    case 'missing':
      return { kind: 'missing' };
    case 'stale':
      return 'stale';
    case 'settled':
      return { kind: 'already', status: reply[1] as 'committed' | 'released' };
    case 'cancelled':
      return { kind: 'cancelled', cost: fromMilli(reply[1] ?? 0) };
    case 'committed':
      return { kind: 'committed', cost: fromMilli(reply[1] ?? 0) };
    case 'refunded':
      return { kind: 'refunded', returned: fromMilli(reply[1] ?? 0), cost: fromMilli(reply[2] ?? 0) };
    default:
      throw new Error(`unexpected settle reply ${JSON.stringify(reply)}`);
  }
}
