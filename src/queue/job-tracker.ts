import { Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Reservations } from '../credits/reservations.ts';
import { UserError } from '../errors/user-error.ts';
import type { MemberRef } from '../members/member-ref.ts';
import { jobsFinishedTotal } from '../metrics/metrics.ts';
import { GENERATE_QUEUE, type StateKeys, scopeKey } from '../state/keys.ts';
import { type DurationStats, durationField, estimateSeconds } from './eta.ts';
import type { GenerateJobData, GenerateResult } from './job-data.ts';
import type { CancelOutcome, JobProgress, JobState, JobView } from './job-view.ts';
import type { ProgressRelay } from './progress-relay.ts';

/** Job status, queue position, ETA, cancel and waiting, for every frontend. */
export interface JobTrackerDeps {
  redis: Redis;
  keys: StateKeys;
  generate: Queue<GenerateJobData, GenerateResult>;
  reservations: Reservations;
  durations: DurationStats;
  relay: ProgressRelay;
}

/** How long `cancel` waits for the worker of a running job to stop and refund. */
const ACTIVE_CANCEL_WAIT_MS = 5000;

export class JobTracker {
  constructor(private readonly deps: JobTrackerDeps) {}

  /** 1-based place among waiting jobs, 0 when the job is not waiting. */
  async positionOf(jobId: string): Promise<number> {
    const { redis, keys } = this.deps;
    const [[, rank], [, waitLength]] = (await redis
      .pipeline()
      .zrank(keys.queueKey(GENERATE_QUEUE, 'prioritized'), jobId)
      .llen(keys.queueKey(GENERATE_QUEUE, 'wait'))
      .exec()) as [[unknown, number | null], [unknown, number]];
    if (rank !== null) return Number(waitLength) + rank + 1;
    const inWait = await redis.lpos(keys.queueKey(GENERATE_QUEUE, 'wait'), jobId);
    // BullMQ takes from the right end of the wait list.
    return inWait === null ? 0 : Number(waitLength) - inWait;
  }

  async get(jobId: string): Promise<JobView | undefined> {
    if (!isJobId(jobId)) return undefined;
    // State first, then the job: a job that finishes between the two reads is read finished, with
    // its result or failure, rather than as a finished state over the data of a running job.
    const bullState = await this.deps.generate.getJobState(jobId);
    const job = await Job.fromId<GenerateJobData, GenerateResult>(this.deps.generate, jobId);
    if (!job) return this.fromReservation(jobId);
    let state: JobState;
    switch (bullState) {
      case 'prioritized':
      case 'waiting':
      case 'waiting-children':
        state = 'waiting';
        break;
      case 'active':
      case 'delayed':
      case 'completed':
        state = bullState;
        break;
      case 'failed':
        state = job.failedReason === 'cancelled' ? 'cancelled' : 'failed';
        break;
      default:
        return this.fromReservation(jobId);
    }
    const view: JobView = {
      jobId,
      state,
      data: job.data,
      attemptsMade: job.attemptsMade,
      createdAt: job.data.createdAt ?? job.timestamp,
    };
    if (isProgress(job.progress)) view.progress = job.progress;
    if (state === 'completed') view.result = job.returnvalue;
    if (state === 'failed' || state === 'cancelled') view.failedReason = job.failedReason;
    if (job.finishedOn) view.finishedAt = job.finishedOn;
    if (state === 'waiting' || state === 'delayed' || state === 'active') {
      const position = state === 'active' ? 0 : await this.positionOf(jobId);
      if (position > 0) view.position = position;
      const active = await this.deps.redis.llen(this.deps.keys.queueKey(GENERATE_QUEUE, 'active'));
      const { model, width, height } = job.data.request;
      const averages = await this.deps.durations.averages(durationField(model, width, height));
      const eta = estimateSeconds({ position, active: state === 'active' ? 0 : active, ...averages });
      if (eta !== undefined) view.etaSeconds = eta;
    }
    return view;
  }

  async cancel(
    jobId: string,
    member: MemberRef,
    options: { isAdmin?: boolean } = {},
  ): Promise<CancelOutcome> {
    const { reservations, keys, redis } = this.deps;
    const record = isJobId(jobId) ? await reservations.read(jobId) : undefined;
    if (!record) throw UserError.refused({ reason: 'no-such-job', jobId });
    const sameScope = record.scope === scopeKey(member.scope);
    if (!sameScope || (record.userId !== member.userId && options.isAdmin !== true)) {
      throw UserError.refused({ reason: 'not-your-job' });
    }
    if (record.status === 'committed') throw UserError.refused({ reason: 'job-finished' });
    if (record.status === 'released') {
      throw UserError.refused({ reason: 'job-ended' });
    }

    // The marker first: whoever holds the job from now on (a worker starting it, one finishing it,
    // a re-run after a crash) sees it and refunds instead of committing.
    await redis.set(keys.cancel(jobId), String(Date.now()), 'EX', 86_400);
    const job = await Job.fromId<GenerateJobData, GenerateResult>(this.deps.generate, jobId);
    let removed = !job;
    if (job) {
      try {
        // Fails while a worker holds the job's lock (it is rendering).
        await job.remove();
        removed = true;
      } catch {
        removed = false;
      }
    }
    if (removed) {
      // The job's hash (where the open reservation lives) is gone now: settle by what was read.
      const outcome = await reservations.settle(jobId, 'refund', 'cancelled', member.userId, {
        line: record.line,
        ...(job ? { data: JSON.stringify(job.data) } : {}),
      });
      if (outcome.kind === 'refunded') {
        jobsFinishedTotal.inc({ outcome: 'cancelled' });
        return { was: 'waiting', refunded: outcome.returned };
      }
      if (outcome.kind === 'already' && outcome.status === 'committed') {
        throw UserError.refused({ reason: 'job-finished' });
      }
      return { was: 'waiting', refunded: 0 };
    }
    // Rendering: the worker polls the marker, aborts, and refunds. Wait briefly to report it.
    const deadline = Date.now() + ACTIVE_CANCEL_WAIT_MS;
    let kept = 0;
    while (Date.now() < deadline) {
      const now = await reservations.read(jobId);
      if (now?.status === 'committed') throw UserError.refused({ reason: 'job-finished' });
      if (now?.status === 'released') {
        // A clip keeps the price of the frames it finished.
        kept = now.kept ?? 0;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { was: 'active', refunded: Math.max(0, record.cost - kept) };
  }

  /** Resolves when the job finished (completed, failed, cancelled) or at the timeout, with its view. */
  async waitForResult(jobId: string, timeoutMs: number): Promise<JobView | undefined> {
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const stopWaiting = await this.deps.relay.whenFinished(jobId, () => wake());
    const timer = setTimeout(() => wake(), timeoutMs);
    try {
      // Subscribed first, then looked: a job that finished in between is seen here.
      const view = await this.get(jobId);
      if (!view || isFinished(view.state)) return view;
      await woken;
      return await this.get(jobId);
    } finally {
      clearTimeout(timer);
      stopWaiting();
    }
  }

  /** A job BullMQ no longer has (cancelled while waiting, lost, or removed after retention). */
  private async fromReservation(jobId: string): Promise<JobView | undefined> {
    const record = await this.deps.reservations.read(jobId, true);
    if (!record?.data) return undefined;
    const data = JSON.parse(record.data) as GenerateJobData;
    const state: JobState =
      record.status === 'committed'
        ? 'completed'
        : record.status === 'released'
          ? record.reason === 'cancelled'
            ? 'cancelled'
            : 'failed'
          : 'waiting';
    return {
      jobId,
      state,
      data,
      attemptsMade: 0,
      createdAt: record.createdAt,
      ...(record.settledAt ? { finishedAt: record.settledAt } : {}),
      ...(record.status === 'released' ? { failedReason: record.reason ?? 'failed' } : {}),
    };
  }
}

function isFinished(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

function isProgress(value: unknown): value is JobProgress {
  return typeof value === 'object' && value !== null && 'step' in value && 'total' in value;
}

/** Ids come from buttons and URLs: only ours are looked up. */
function isJobId(jobId: string): boolean {
  return /^g[0-9a-f]{24}$/.test(jobId);
}
