import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.ts';

/** A job this worker took by hand to join a batch: finished with its own token. */
export interface HeldJob<D, R> {
  job: Job<D, R>;
  token: string;
}

export interface BatchTakerOptions<D, R> {
  worker: Worker<D, R>;
  queue: Queue<D, R>;
  redis: Redis;
  /** The worker's lock duration: held jobs' locks are renewed at half of it. */
  lockDurationMs: number;
  keyOf: (data: D) => string | undefined;
  /** A held job's lock could not be renewed: another worker may run it now. */
  onLockLost: (jobId: string) => void;
  logger: Logger;
}

/**
 * Fills a batch from the head of the queue only, so the fair order holds: it looks at the job
 * BullMQ would hand out next (the wait list's end, else the lowest score of the prioritized set,
 * as its moveToActive script does) and takes it only when its key matches; the first job that
 * does not match ends the batch. Between the look and the take another worker may take that job;
 * what is taken then is checked again, and a job that does not match goes back with
 * `moveToWait`, which puts it in front of the jobs of its priority, where it was.
 *
 * BullMQ renews the locks of the jobs its own loop runs; the jobs taken here are renewed here.
 */
export class BatchTaker<D, R> {
  private readonly held = new Map<string, HeldJob<D, R>>();
  private taken = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: BatchTakerOptions<D, R>) {
    this.timer = setInterval(() => void this.renewLocks(), Math.max(50, options.lockDurationMs / 2));
    this.timer.unref();
  }

  /**
   * Up to `room` jobs from the head of the queue whose key is `key`. A Redis error ends the batch
   * with what was taken so far (those jobs are held and must be finished).
   */
  async take(key: string, room: number): Promise<HeldJob<D, R>[]> {
    const { worker, keyOf, logger } = this.options;
    const out: HeldJob<D, R>[] = [];
    try {
      while (out.length < room && (await this.headKey()) === key) {
        const token = `${worker.id}:batch:${++this.taken}`;
        const job = await worker.getNextJob(token, { block: false });
        if (job === undefined) break;
        if (keyOf(job.data) !== key) {
          await job.moveToWait(token).catch((err: unknown) => {
            logger.warn({ err, jobId: job.id }, 'could not hand back a job that does not fit the batch');
          });
          break;
        }
        const held = { job, token };
        this.held.set(job.id as string, held);
        out.push(held);
      }
    } catch (err) {
      logger.warn({ err, taken: out.length }, 'could not fill the batch further');
    }
    return out;
  }

  /** The job is finished (completed or failed): its lock is no longer renewed. */
  release(jobId: string): void {
    this.held.delete(jobId);
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** The key of the job at the head of the queue; undefined when there is none. */
  private async headKey(): Promise<string | undefined> {
    const { queue, redis, keyOf } = this.options;
    const replies = await redis
      .pipeline()
      .lindex(queue.keys.wait!, -1)
      .zrange(queue.keys.prioritized!, '0', '0')
      .exec();
    const waiting = replies?.[0]?.[1] as string | null | undefined;
    const prioritized = replies?.[1]?.[1] as string[] | undefined;
    const id = waiting ?? prioritized?.[0];
    if (id === undefined) return undefined;
    const data = await redis.hget(queue.toKey(id), 'data');
    if (data === null) return undefined;
    try {
      return keyOf(JSON.parse(data) as D);
    } catch {
      return undefined;
    }
  }

  private async renewLocks(): Promise<void> {
    const { lockDurationMs, onLockLost, logger } = this.options;
    for (const [jobId, { job, token }] of this.held) {
      const renewed = await job.extendLock(token, lockDurationMs).catch(() => 0);
      if (renewed === 0 && this.held.has(jobId)) {
        logger.warn({ jobId }, 'lost the lock of a batched job');
        this.held.delete(jobId);
        onLockLost(jobId);
      }
    }
  }
}
