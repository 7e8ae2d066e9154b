import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { LEDGER_MAX_LEN, Reservations, SETTLED_TTL_S } from '../credits/reservations.ts';
import { CodedError } from '../errors/coded-error.ts';
import { isUserError } from '../errors/user-error.ts';
import type { Logger } from '../log/logger.ts';
import { jobSeconds, jobsFinishedTotal } from '../metrics/metrics.ts';
import { createRedis } from '../redis/connections.ts';
import { DELIVER_QUEUE, GENERATE_QUEUE, StateKeys } from '../state/keys.ts';
import { withScripts } from '../state/scripts.ts';
import { DurationStats, durationField } from './eta.ts';
import { failureMessage, finishFailedJob, PERMANENT_CODES, resultDeliveryId } from './final-failure.ts';
import type { DeliverJobData, GenerateJobData, GenerateResult } from './job-data.ts';
import type { JobProgress } from './job-view.ts';
import { deliverJobOptions } from './queues.ts';
import { ReservationSweeper } from './reservation-sweeper.ts';
import { announceWorker } from './worker-presence.ts';

/**
 * The lifecycle around a render: the engine's `render` only turns job data into images; this
 * wrapper commits the credits once on success, hands the result to the deliver queue, aborts the
 * render when the member cancels, retries only what a retry can fix, and on the final failure
 * refunds once and tells the member.
 */
export interface RenderContext {
  jobId: string;
  /** Fires when the member cancels (or the worker loses the job); stop at the next step. */
  signal: AbortSignal;
  /** Reports progress (`job.updateProgress`); rejects once the job is cancelled. */
  reportProgress(progress: JobProgress): Promise<void>;
  /** 1 on the first attempt. */
  attempt: number;
  logger: Logger;
}

export type RenderFunction = (data: GenerateJobData, ctx: RenderContext) => Promise<GenerateResult>;

export interface GenerateWorkerOptions {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  render: RenderFunction;
  logger: Logger;
  clock?: () => number;
  /** BullMQ stall detection (tests shorten these). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often cancel markers of running jobs are checked. */
  cancelPollMs?: number;
  /** How often the reservation sweeper runs (0: never). */
  sweepIntervalMs?: number;
  /** The models this worker can render, announced to admission; absent: any (it does not say). */
  models?: () => string[];
}

export interface GenerateWorker {
  worker: Worker<GenerateJobData, GenerateResult>;
  /** Runs on a timer; exposed so tests and `easel doctor` can run a sweep now. */
  sweeper: ReservationSweeper;
  /** Stops taking jobs, waits for running ones, then closes its connections. */
  close(): Promise<void>;
}

class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

export async function startGenerateWorker(options: GenerateWorkerOptions): Promise<GenerateWorker> {
  const { prefix, logger, render } = options;
  const clock = options.clock ?? Date.now;
  const keys = new StateKeys(prefix);
  // Workers wait for Redis to come back rather than fail a render over a blip.
  const connection = createRedis(options.redisUrl, 'worker', 'easel-generate-worker');
  const redis = withScripts(createRedis(options.redisUrl, 'worker', 'easel-generate-commands'));
  const reservations = new Reservations({
    redis,
    keys,
    clock,
    ledgerMaxLen: LEDGER_MAX_LEN,
    settledTtlS: SETTLED_TTL_S,
  });
  const durations = new DurationStats(redis, keys);
  const deliver = new Queue<DeliverJobData>(DELIVER_QUEUE, { connection: redis, prefix });
  deliver.on('error', (err) => logger.error({ err }, 'deliver queue error'));
  const generate = new Queue<GenerateJobData, GenerateResult>(GENERATE_QUEUE, { connection: redis, prefix });
  generate.on('error', (err) => logger.error({ err }, 'generate queue error'));
  const running = new Map<string, AbortController>();

  const cancelled = async (jobId: string) => (await redis.exists(keys.cancel(jobId))) === 1;

  const cancelNow = async (
    job: Job<GenerateJobData, GenerateResult>,
    progress: JobProgress | undefined,
  ): Promise<never> => {
    await reservations.settle(
      job.id as string,
      'refund',
      'cancelled',
      job.data.member.userId,
      {},
      finishedShare(job.data, progress),
    );
    jobsFinishedTotal.inc({ outcome: 'cancelled' });
    throw new UnrecoverableError('cancelled');
  };

  const processor = async (
    job: Job<GenerateJobData, GenerateResult>,
    _token?: string,
    bullSignal?: AbortSignal,
  ): Promise<GenerateResult> => {
    const jobId = job.id as string;
    const controller = new AbortController();
    bullSignal?.addEventListener('abort', () => controller.abort(bullSignal.reason), { once: true });
    running.set(jobId, controller);
    const jobLogger = logger.child({ jobId, attempt: job.attemptsMade + 1 });
    let lastProgress: JobProgress | undefined;
    try {
      if (job.data.v !== 1)
        throw new UnrecoverableError(`unknown generate job version ${String(job.data.v)}`);
      const status = (await reservations.read(jobId))?.status;
      if (!status) throw new UnrecoverableError('no credit reservation for this job: it was not admitted');
      if (status === 'released') throw new UnrecoverableError('cancelled');
      if (await cancelled(jobId)) throw new Cancelled();

      const started = clock();
      const result = await render(job.data, {
        jobId,
        signal: controller.signal,
        attempt: job.attemptsMade + 1,
        logger: jobLogger,
        reportProgress: async (progress) => {
          if (controller.signal.aborted) throw new Cancelled();
          await job.updateProgress({ step: progress.step, total: progress.total });
          // What the member was last shown is what a cancel charges (a clip's finished frames).
          lastProgress = progress;
        },
      });
      if (controller.signal.aborted && (await cancelled(jobId))) throw new Cancelled();

      // Commit refuses (atomically) when a cancel landed first; then the member is refunded instead.
      const outcome = await reservations.settle(jobId, 'commit', 'rendered', job.data.member.userId);
      if (outcome.kind === 'cancelled') throw new Cancelled();
      if (outcome.kind === 'already' && outcome.status === 'released')
        throw new UnrecoverableError('cancelled');
      if (outcome.kind === 'committed') {
        const ms = clock() - started;
        const { model, width, height } = job.data.request;
        jobSeconds.observe({ model }, ms / 1000);
        jobsFinishedTotal.inc({ outcome: 'completed' });
        // The ETA's statistics are per picture: a clip counts as its frames' average.
        const pictures = job.data.request.video?.frames ?? 1;
        await durations.record(durationField(model, width, height), ms / pictures).catch(() => undefined);
      }
      if (job.data.origin.platform !== 'cli') {
        await deliver.add(
          'result',
          {
            v: 1,
            kind: 'result',
            jobId,
            member: job.data.member,
            origin: job.data.origin,
            request: job.data.request,
            result,
          },
          { ...deliverJobOptions(), jobId: resultDeliveryId(jobId) },
        );
      }
      return result;
    } catch (error) {
      if (error instanceof Cancelled || (controller.signal.aborted && (await cancelled(jobId)))) {
        return cancelNow(job, lastProgress);
      }
      throw await failure(job, error, jobLogger);
    } finally {
      running.delete(jobId);
    }
  };

  /** Decides retry or final failure; returns the error to throw. */
  const failure = async (job: Job<GenerateJobData, GenerateResult>, error: unknown, jobLogger: Logger) => {
    const permanent =
      error instanceof UnrecoverableError ||
      isUserError(error) ||
      (error instanceof CodedError && PERMANENT_CODES.has(error.code));
    const attempts = job.opts.attempts ?? 1;
    const final = permanent || job.attemptsMade + 1 >= attempts;
    jobLogger.warn({ err: error, final }, final ? 'render failed for good' : 'render failed; will retry');
    if (error instanceof UnrecoverableError && error.message === 'cancelled') return error;
    await recordWorkerReason(job, error).catch(() => undefined);
    if (!final) return error;
    const message = failureMessage(error);
    await finishFailedJob({ reservations, deliver, logger: jobLogger }, job.id as string, job.data, message);
    return permanent
      ? error instanceof UnrecoverableError
        ? error
        : new UnrecoverableError(message)
      : error instanceof Error
        ? error
        : new Error(String(error));
  };

  const worker = new Worker<GenerateJobData, GenerateResult>(GENERATE_QUEUE, processor, {
    connection,
    prefix,
    concurrency: options.concurrency,
    ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
    ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
    maxStalledCount: 1,
  });
  worker.on('error', (err) => logger.error({ err }, 'generate worker error'));

  const sweeper = new ReservationSweeper({ redis, keys, generate, deliver, reservations, logger, clock });
  // A job that stalled too often is failed by BullMQ without running the processor: settle it now
  // rather than at the next sweep.
  worker.on('stalled', (jobId) => {
    setTimeout(() => void sweeper.settleIfFinished(jobId).catch(() => undefined), 100);
  });

  // Cancel markers are written by whichever process handles the member's cancel; the worker that
  // runs the job notices within one poll and aborts the render through its signal.
  const pollMs = options.cancelPollMs ?? 250;
  const poll = setInterval(() => {
    if (running.size === 0) return;
    const ids = [...running.keys()];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.exists(keys.cancel(id));
    void pipeline
      .exec()
      .then((replies) => {
        replies?.forEach(([, exists], i) => {
          const id = ids[i];
          if (exists === 1 && id) running.get(id)?.abort(new Cancelled());
        });
      })
      .catch(() => undefined);
  }, pollMs);
  poll.unref();

  const sweepMs = options.sweepIntervalMs ?? 30_000;
  const sweepTimer =
    sweepMs > 0
      ? setInterval(() => {
          void sweeper.sweep().catch((err: unknown) => logger.warn({ err }, 'reservation sweep failed'));
        }, sweepMs)
      : undefined;
  sweepTimer?.unref();

  await worker.waitUntilReady();
  const presence = await announceWorker({
    redis,
    prefix,
    logger,
    clock,
    ...(options.models ? { models: options.models } : {}),
  });
  logger.info({ concurrency: options.concurrency, id: presence.id }, 'generate worker started');

  return {
    worker,
    sweeper,
    async close() {
      // Unannounced first: admission stops counting on this worker while it finishes its jobs.
      await presence.stop();
      clearInterval(poll);
      if (sweepTimer) clearInterval(sweepTimer);
      await worker.close();
      await Promise.all([deliver.close(), generate.close()]);
      await Promise.all([quit(connection), quit(redis)]);
    },
  };
}

async function quit(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}

/**
 * Credits a cancelled job still costs: a clip's frames are charged as they finish (its progress
 * counts frames), so a cancel refunds the frames not rendered; a picture cancelled part way costs
 * nothing. Rounded down to a milli-credit, in the member's favour.
 */
export function finishedShare(data: GenerateJobData, progress: JobProgress | undefined): number {
  if (data.request.video === undefined || progress === undefined || progress.total <= 0) return 0;
  const done = Math.min(progress.step, progress.total);
  return Math.floor((data.cost * 1000 * done) / progress.total) / 1000;
}

/** Prefix of the job-log line that holds the worker's own account of a failed attempt. */
export const WORKER_REASON_PREFIX = 'failed: ';

/**
 * Members read a short summary of a failure (`failureMessage`); the operator needs the worker's own
 * reason ("unet/model.onnx input ... has text width 20, but ..."). It goes into the job's BullMQ log,
 * which only operator tools read (`easel imagine`), never into anything a chat member or API client
 * is shown.
 */
async function recordWorkerReason(job: Job, error: unknown): Promise<void> {
  const reason = error instanceof Error ? error.message : String(error);
  await job.log(`${WORKER_REASON_PREFIX}${reason.split('\n')[0]!.slice(0, 2000)}`);
}

/** The worker's reason for the job's last failed attempt, when it recorded one. */
export async function workerReason(queue: Queue, jobId: string): Promise<string | undefined> {
  const { logs } = await queue.getJobLogs(jobId, -1, -1);
  const last = logs.at(-1);
  return last?.startsWith(WORKER_REASON_PREFIX) ? last.slice(WORKER_REASON_PREFIX.length) : undefined;
}
