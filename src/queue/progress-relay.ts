import { Job, type Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.ts';
import { createRedis } from '../redis/connections.ts';
import { GENERATE_QUEUE } from '../state/keys.ts';
import type { GenerateJobData, GenerateResult } from './job-data.ts';
import type { JobProgress } from './job-view.ts';

/**
 * Job events for frontends that edit their "rendering 12/25" message: QueueEvents reads the
 * queue's event stream, so it works whichever process runs the job. Each event carries the job's
 * data so a frontend can tell its own jobs (by `data.origin.platform`) from others'.
 *
 * `onFailed` fires once per job, when it has failed for good (BullMQ's "failed" event is only
 * written when a job moves to the failed set: attempts exhausted, an unrecoverable error, too many
 * stalls, or a cancel while rendering, with `cancelled: true`). Retried attempts do not fire it.
 */
export interface ProgressEvent {
  jobId: string;
  progress: JobProgress;
  data: GenerateJobData;
}
export interface CompletedEvent {
  jobId: string;
  result: GenerateResult;
  data: GenerateJobData;
}
export interface FailedEvent {
  jobId: string;
  failedReason: string;
  cancelled: boolean;
  data: GenerateJobData;
}

type Handler<E> = (event: E) => void | Promise<void>;

const DATA_CACHE = 500;
/** How long closing waits for QueueEvents before dropping its connection. */
const CLOSE_WAIT_MS = 2_000;

export class ProgressRelay {
  private events: QueueEvents | undefined;
  /** The start in progress: concurrent first callers share one QueueEvents. */
  private starting: Promise<QueueEvents> | undefined;
  private connection: Redis | undefined;
  private readonly progress = new Set<Handler<ProgressEvent>>();
  private readonly completed = new Set<Handler<CompletedEvent>>();
  private readonly failed = new Set<Handler<FailedEvent>>();
  private readonly dataCache = new Map<string, GenerateJobData>();
  /**
   * Callers waiting for one job to finish, by job id. One listener per event serves them all:
   * a listener per waiter would pass Node's limit of ten (MaxListenersExceededWarning) as soon as
   * eleven API requests wait at once, and cost every event a scan of every waiter.
   */
  private readonly finishWaiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly options: {
      redisUrl: string;
      prefix: string;
      generate: Queue<GenerateJobData, GenerateResult>;
      logger: Logger;
    },
  ) {}

  onProgress(handler: Handler<ProgressEvent>): () => void {
    return this.add(this.progress, handler);
  }

  onCompleted(handler: Handler<CompletedEvent>): () => void {
    return this.add(this.completed, handler);
  }

  onFailed(handler: Handler<FailedEvent>): () => void {
    return this.add(this.failed, handler);
  }

  /**
   * Calls `wake` when the job completes, fails or is removed (once listening has started, which
   * this awaits). Returns the function that stops waiting.
   */
  async whenFinished(jobId: string, wake: () => void): Promise<() => void> {
    let waiters = this.finishWaiters.get(jobId);
    if (!waiters) {
      waiters = new Set();
      this.finishWaiters.set(jobId, waiters);
    }
    waiters.add(wake);
    const stop = () => {
      waiters.delete(wake);
      if (waiters.size === 0 && this.finishWaiters.get(jobId) === waiters) this.finishWaiters.delete(jobId);
    };
    try {
      await this.queueEvents();
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  private wakeWaiters(jobId: string): void {
    const waiters = this.finishWaiters.get(jobId);
    if (waiters) for (const wake of [...waiters]) wake();
  }

  /**
   * The underlying QueueEvents (started on first use). Every event written after this resolves is
   * delivered: the stream is read from its last entry as of the call, not from BullMQ's default "$",
   * which QueueEvents only sends after a round trip of its own (CLIENT SETNAME), so a job's first
   * progress could fall in between and be lost.
   */
  async queueEvents(): Promise<QueueEvents> {
    if (this.events) return this.events;
    this.starting ??= this.startEvents().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startEvents(): Promise<QueueEvents> {
    const connection = createRedis(this.options.redisUrl, 'worker', 'easel-queue-events');
    this.connection = connection;
    let last: [id: string, fields: string[]] | undefined;
    try {
      [last] = await connection.xrevrange(this.options.generate.keys.events!, '+', '-', 'COUNT', 1);
    } catch (error) {
      if (this.connection === connection) this.connection = undefined;
      connection.disconnect();
      throw error;
    }
    // Closed while the stream was read: close() has dropped the connection already.
    if (this.connection !== connection) throw new Error('progress relay closed while starting');
    const events = new QueueEvents(GENERATE_QUEUE, {
      connection,
      prefix: this.options.prefix,
      // "0-0" on a stream with no entry yet: all of them, from the first.
      lastEventId: last?.[0] ?? '0-0',
    });
    this.events = events;
    events.on('error', (err) => this.options.logger.warn({ err }, 'queue events error'));
    events.on('progress', ({ jobId, data }) => {
      if (this.progress.size === 0 || typeof data !== 'object' || data === null) return;
      const progress = data as JobProgress;
      void this.emit(this.progress, jobId, (jobData) => ({ jobId, progress, data: jobData }));
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      this.wakeWaiters(jobId);
      void this.emit(this.completed, jobId, (jobData) => ({
        jobId,
        result: returnvalue as unknown as GenerateResult,
        data: jobData,
      }));
      this.dataCache.delete(jobId);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      this.wakeWaiters(jobId);
      void this.emit(this.failed, jobId, (jobData) => ({
        jobId,
        failedReason,
        cancelled: failedReason === 'cancelled',
        data: jobData,
      }));
      this.dataCache.delete(jobId);
    });
    events.on('removed', ({ jobId }) => this.wakeWaiters(jobId));
    await events.waitUntilReady();
    return events;
  }

  async close(): Promise<void> {
    const events = this.events;
    this.events = undefined;
    if (events) {
      // ioredis never ends a connection that is disconnected while it reconnects (redis/ioredis
      // #2169), and QueueEvents.close() waits for that end: shortly after a Redis restart it would
      // hang the shutdown forever. Bounded; the connection is ours and dropped below either way.
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
      });
      await Promise.race([events.close().catch(() => undefined), bounded]);
      clearTimeout(timer);
    }
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect());
      else connection.disconnect();
    }
  }

  private add<E>(set: Set<Handler<E>>, handler: Handler<E>): () => void {
    set.add(handler);
    void this.queueEvents().catch((err: unknown) =>
      this.options.logger.warn({ err }, 'queue events failed to start'),
    );
    return () => set.delete(handler);
  }

  private async emit<E>(
    set: Set<Handler<E>>,
    jobId: string,
    make: (data: GenerateJobData) => E,
  ): Promise<void> {
    if (set.size === 0) return;
    const data = await this.jobData(jobId);
    if (!data) return;
    const event = make(data);
    for (const handler of set) {
      try {
        await handler(event);
      } catch (err) {
        this.options.logger.warn({ err, jobId }, 'job event handler failed');
      }
    }
  }

  private async jobData(jobId: string): Promise<GenerateJobData | undefined> {
    const cached = this.dataCache.get(jobId);
    if (cached) return cached;
    const job = await Job.fromId<GenerateJobData, GenerateResult>(this.options.generate, jobId).catch(
      () => undefined,
    );
    if (!job) return undefined;
    if (this.dataCache.size >= DATA_CACHE) {
      const oldest = this.dataCache.keys().next().value;
      if (oldest !== undefined) this.dataCache.delete(oldest);
    }
    this.dataCache.set(jobId, job.data);
    return job.data;
  }
}
