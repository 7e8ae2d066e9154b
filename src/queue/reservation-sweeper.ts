import { Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Services } from '../app/services.ts';
import {
  LEDGER_MAX_LEN,
  parseReservationLine,
  Reservations,
  SETTLED_TTL_S,
} from '../credits/reservations.ts';
import type { Logger } from '../log/logger.ts';
import { jobsFinishedTotal } from '../metrics/metrics.ts';
import { StateKeys } from '../state/keys.ts';
import { withScripts } from '../state/scripts.ts';
import { failureMessage, finishFailedJob } from './final-failure.ts';
import type { DeliverJobData, GenerateJobData, GenerateResult } from './job-data.ts';

/**
 * Releases reservations nobody else will settle: a job removed from the queue by hand (its
 * reservation is refunded; with the job gone, nobody can be told where it was asked for), BullMQ
 * failed a job without our processor running (too many stalls), a worker that died between
 * finishing and settling. Every action goes through the settle script, so sweepers in several
 * processes, a late worker and a cancel can all race safely.
 */
export const SWEEP_GRACE_MS = 60_000;
const BATCH = 200;

export interface SweeperDeps {
  redis: Redis;
  keys: StateKeys;
  generate: Queue<GenerateJobData, GenerateResult>;
  deliver: Queue<DeliverJobData>;
  reservations: Reservations;
  logger: Logger;
  clock: () => number;
}

export class ReservationSweeper {
  constructor(private readonly deps: SweeperDeps) {}

  /** A sweeper on a process's Services (the deliver role runs one). */
  static forServices(services: Services, logger: Logger, clock: () => number = Date.now): ReservationSweeper {
    const redis = withScripts(services.redis);
    const keys = new StateKeys(services.prefix);
    const reservations = new Reservations({
      redis,
      keys,
      clock,
      ledgerMaxLen: LEDGER_MAX_LEN,
      settledTtlS: SETTLED_TTL_S,
    });
    return new ReservationSweeper({
      redis,
      keys,
      generate: services.queues.generate,
      deliver: services.queues.deliver,
      reservations,
      logger,
      clock,
    });
  }

  /** Where the next sweep continues: the open reservations are walked a batch per sweep. */
  private offset = 0;

  /**
   * Looks at the next batch of open reservations older than the grace period (a long queue is
   * walked over several sweeps, not stuck on its oldest jobs); returns how many it settled.
   */
  async sweep(graceMs = SWEEP_GRACE_MS): Promise<number> {
    const { redis, keys, clock } = this.deps;
    const entries = await redis.zrange(
      keys.openReservations,
      String(this.offset),
      String(this.offset + BATCH - 1),
      'WITHSCORES',
    );
    const cutoff = clock() - graceMs;
    const lines: string[] = [];
    for (let i = 0; i + 1 < entries.length; i += 2) {
      if (Number(entries[i + 1]) <= cutoff) lines.push(entries[i] as string);
    }
    // Past the old ones (scores are creation times) or at the end: start over next time.
    this.offset = lines.length < BATCH ? 0 : this.offset + BATCH;
    let settled = 0;
    for (const line of lines) {
      const open = parseReservationLine(line);
      if (open && (await this.settleIfFinished(open.jobId, line))) settled++;
    }
    // Settled ones left the set: step back so the walk skips nothing.
    this.offset = Math.max(0, this.offset - settled);
    return settled;
  }

  /**
   * Settles one reservation whose job is gone, failed or completed; true when it did. `goneLine`:
   * the open reservation's line, from the open set, to refund by when the job is gone.
   */
  async settleIfFinished(jobId: string, goneLine?: string): Promise<boolean> {
    const { generate, reservations, deliver, logger } = this.deps;
    const state = await generate.getJobState(jobId);
    if (state !== 'failed' && state !== 'completed' && state !== 'unknown') return false;
    const job = await Job.fromId<GenerateJobData, GenerateResult>(generate, jobId);
    if (!job) {
      if (goneLine === undefined) return false;
      const open = parseReservationLine(goneLine);
      const outcome = await reservations.settle(jobId, 'refund', 'removed from the queue', 'easel', {
        line: goneLine,
      });
      if (outcome.kind !== 'refunded') return false;
      logger.warn(
        { jobId, member: open?.userId, scope: open?.scope },
        'job removed from the queue: refunded',
      );
      jobsFinishedTotal.inc({ outcome: 'failed' });
      return true;
    }
    if (state === 'failed') {
      if (job.failedReason === 'cancelled') {
        await reservations.settle(jobId, 'refund', 'cancelled', job.data.member.userId);
        return true;
      }
      await finishFailedJob(
        { reservations, deliver, logger },
        jobId,
        job.data,
        failureMessage(new Error(job.failedReason)),
      );
      return true;
    }
    if (state === 'completed') {
      // The processor commits before it returns, so this only tidies a record left by a crash.
      const outcome = await reservations.settle(jobId, 'commit', 'rendered', job.data.member.userId);
      return outcome.kind === 'committed';
    }
    return false;
  }
}
