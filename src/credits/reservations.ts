import { creditsRefundedTotal, creditsSpentTotal } from '../metrics/metrics.ts';
import { GENERATE_QUEUE, type StateKeys } from '../state/keys.ts';
import type { ScriptedRedis } from '../state/scripts.ts';
import { fromMilli, toMilli } from './units.ts';

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
  /** Of a released reservation: credits still charged (the finished frames of a cancelled clip). */
  kept?: number;
  /** An open reservation's line as admission wrote it (settle and the sweeper pass it on). */
  line?: string;
}

export interface ReservationsDeps {
  redis: ScriptedRedis;
  keys: StateKeys;
  clock: () => number;
  ledgerMaxLen: number;
  /** How long a settled reservation is kept (job status after BullMQ removed the job). */
  settledTtlS: number;
}

/** What settle may need when the job's hash is already gone (a cancel removed it, or an operator). */
export interface SettleFallback {
  /** The open reservation's line, read before the job went. */
  line?: string;
  /** The job's data JSON, so the settled record still describes the job. */
  data?: string;
}

/** The job-hash field holding its open reservation's line (admit-batch.lua writes it). */
export const OPEN_RESERVATION_FIELD = 'easelReservation';

const SETTLED_FIELDS = [
  'status',
  'cost',
  'scope',
  'userId',
  'day',
  'createdAt',
  'settledAt',
  'reason',
  'data',
  'kept',
] as const;

/**
 * An open reservation's line (admit-batch.lua writes it): "<jobId> <cost> <fromAllowance>
 * <fromGranted> <day> <scope> <userId>", milli-credits; ids never hold spaces.
 */
export interface OpenReservation {
  jobId: string;
  cost: number;
  day: number;
  scope: string;
  userId: string;
}

export function parseReservationLine(line: string): OpenReservation | undefined {
  const parts = line.split(' ');
  if (parts.length !== 7) return undefined;
  const [jobId, cost, , , day, scope, userId] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return { jobId, cost: fromMilli(cost), day: Number(day), scope, userId };
}

export class Reservations {
  constructor(private readonly deps: ReservationsDeps) {}

  /** The settled record if there is one, else the open reservation on the job's hash. */
  async read(jobId: string, withData = false): Promise<ReservationRecord | undefined> {
    const { redis, keys } = this.deps;
    const fields: readonly (typeof SETTLED_FIELDS)[number][] = withData
      ? SETTLED_FIELDS
      : SETTLED_FIELDS.filter((f) => f !== 'data');
    const values = await redis.hmget(keys.reservation(jobId), ...fields);
    const get = (name: (typeof SETTLED_FIELDS)[number]) => values[fields.indexOf(name)] ?? undefined;
    const status = get('status');
    if (status) {
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
        ...(get('kept') ? { kept: fromMilli(get('kept')!) } : {}),
      };
    }
    const jobFields = withData
      ? [OPEN_RESERVATION_FIELD, 'timestamp', 'data']
      : [OPEN_RESERVATION_FIELD, 'timestamp'];
    const [line, timestamp, data] = await redis.hmget(keys.queueKey(GENERATE_QUEUE, jobId), ...jobFields);
    const open = line ? parseReservationLine(line) : undefined;
    if (!open || !line) return undefined;
    return {
      jobId,
      status: 'reserved',
      cost: open.cost,
      scope: open.scope,
      userId: open.userId,
      day: open.day,
      createdAt: Number(timestamp),
      ...(data ? { data } : {}),
      line,
    };
  }

  async settle(
    jobId: string,
    mode: SettleMode,
    reason: string,
    by = 'easel',
    fallback: SettleFallback = {},
    /** Refund only: credits of the cost still charged (a clip's finished frames). */
    keep = 0,
  ): Promise<SettleOutcome> {
    const { redis, keys } = this.deps;
    // The script must be told every key it touches; the member's keys and the day come from the
    // reservation, so read it first and let the script check nothing moved (it returns "stale").
    for (let tries = 0; tries < 3; tries++) {
      const [status, line] = await Promise.all([
        redis.hget(keys.reservation(jobId), 'status'),
        redis.hget(keys.queueKey(GENERATE_QUEUE, jobId), OPEN_RESERVATION_FIELD),
      ]);
      if (status) return { kind: 'already', status: status as 'committed' | 'released' };
      const current = line ?? fallback.line;
      const open = current ? parseReservationLine(current) : undefined;
      if (!open || !current) return { kind: 'missing' };
      const member = keys.forMemberParts(open.scope, open.userId);
      const reply = await redis.easelSettle(
        keys.reservation(jobId),
        keys.openReservations,
        member.member,
        member.ledger,
        keys.scopeSpent(open.scope, open.day),
        keys.cancel(jobId),
        keys.queueKey(GENERATE_QUEUE, jobId),
        mode,
        jobId,
        this.deps.clock(),
        this.deps.ledgerMaxLen,
        this.deps.settledTtlS,
        current,
        reason.slice(0, 200),
        by,
        fallback.data ?? '',
        toMilli(keep),
      );
      const outcome = parseSettle(reply as (string | number)[]);
      if (outcome === 'stale') continue;
      if (outcome.kind === 'committed') creditsSpentTotal.inc(outcome.cost);
      if (outcome.kind === 'refunded') {
        creditsRefundedTotal.inc(outcome.returned);
        if (keep > 0) creditsSpentTotal.inc(Math.min(keep, outcome.cost));
      }
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
