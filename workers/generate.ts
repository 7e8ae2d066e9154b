import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { LEDGER_MAX_LEN, Reservations, SETTLED_TTL_S } from '../src/credits/reservations.ts';
import { CodedError } from '../src/errors/coded-error.ts';
import { isUserError } from '../src/errors/user-error.ts';
import type { Logger } from '../src/log/logger.ts';
import { jobSeconds, jobsFinishedTotal } from '../src/metrics/metrics.ts';
import { BatchTaker, type HeldJob } from '../src/queue/batch-taker.ts';
import { DurationStats, durationField } from '../src/queue/eta.ts';
import {
  failureMessage,
  finishFailedJob,
  PERMANENT_CODES,
  resultDeliveryId,
} from '../src/queue/final-failure.ts';
import type { DeliverJobData, GenerateJobData, GenerateResult } from '../src/queue/job-data.ts';
import type { JobProgress } from '../src/queue/job-view.ts';
import { deliverJobOptions } from '../src/queue/queues.ts';
import { ReservationSweeper } from '../src/queue/reservation-sweeper.ts';
import { announceWorker } from '../src/queue/worker-presence.ts';
import { createRedis } from '../src/redis/connections.ts';
import { DELIVER_QUEUE, GENERATE_QUEUE, StateKeys } from '../src/state/keys.ts';
import { withScripts } from '../src/state/scripts.ts';

/** BullMQ's default lock duration, which the worker keeps unless told otherwise. */
const DEFAULT_LOCK_MS = 30_000;

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

/** Renders several jobs as one batch: one promise per member, in order, each settling on its own. */
export type BatchRenderFunction = (
  members: readonly { data: GenerateJobData; ctx: RenderContext }[],
) => Promise<GenerateResult>[];

/** Cross-user batching (WORKER_BATCH): jobs at the head of the queue with the first job's key join it. */
export interface BatchOptions {
  /** Jobs in a batch at most, the first included; 1 renders one job at a time. */
  size: number;
  /** Jobs with the same key can share a batch; undefined: the job renders alone. */
  key: (data: GenerateJobData) => string | undefined;
  render: BatchRenderFunction;
}

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
  /** The models this worker can render, announced to admission; absent: any (it does not say). */
  models?: () => string[];
  batch?: BatchOptions;
}

export interface GenerateWorker {
  worker: Worker<GenerateJobData, GenerateResult>;
  /**
   * Settles a stalled-out job at once; its periodic sweep is the deliver role's
   * (src/delivery/deliver-role.ts). Exposed so tests and `easel doctor` can run a sweep now.
   */
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
  const batching = options.batch !== undefined && options.batch.size > 1 ? options.batch : undefined;
  // Set once the worker exists: it takes the jobs that join a batch.
  let taker: BatchTaker<GenerateJobData, GenerateResult> | undefined;

  const cancelled = async (jobId: string) => (await redis.exists(keys.cancel(jobId))) === 1;

  /**
   * Refunds a cancelled job, keeping the price of what the member was last shown as finished (a
   * clip's frames); returns the error that finishes it for good.
   */
  const cancelNow = async (
    job: Job<GenerateJobData, GenerateResult>,
    progress: JobProgress | undefined,
  ): Promise<UnrecoverableError> => {
    await reservations.settle(
      job.id as string,
      'refund',
      'cancelled',
      job.data.member.userId,
      {},
      finishedShare(job.data, progress),
    );
    jobsFinishedTotal.inc({ outcome: 'cancelled' });
    return new UnrecoverableError('cancelled');
  };

  /** A job this worker runs: its abort controller (cancel polls reach it) and its render context. */
  interface Running {
    job: Job<GenerateJobData, GenerateResult>;
    controller: AbortController;
    ctx: RenderContext;
    /** What the member was last shown: what a cancel charges. */
    lastProgress?: JobProgress;
  }

  const begin = (job: Job<GenerateJobData, GenerateResult>, bullSignal?: AbortSignal): Running => {
    const jobId = job.id as string;
    const controller = new AbortController();
    bullSignal?.addEventListener('abort', () => controller.abort(bullSignal.reason), { once: true });
    running.set(jobId, controller);
    const ctx: RenderContext = {
      jobId,
      signal: controller.signal,
      attempt: job.attemptsMade + 1,
      logger: logger.child({ jobId, attempt: job.attemptsMade + 1 }),
      reportProgress: async (progress) => {
        if (controller.signal.aborted) throw new Cancelled();
        await job.updateProgress({ step: progress.step, total: progress.total });
        member.lastProgress = progress;
      },
    };
    const member: Running = { job, controller, ctx };
    return member;
  };

  /** What must hold before a job renders: a known version, its reservation, no cancel. */
  const check = async ({ job }: Running): Promise<void> => {
    const jobId = job.id as string;
    if (job.data.v !== 1) throw new UnrecoverableError(`unknown generate job version ${String(job.data.v)}`);
    const status = (await reservations.read(jobId))?.status;
    if (!status) throw new UnrecoverableError('no credit reservation for this job: it was not admitted');
    if (status === 'released') throw new UnrecoverableError('cancelled');
    if (await cancelled(jobId)) throw new Cancelled();
  };

  /** After a render: commit the credits once, hand the result to delivery. */
  const complete = async (
    { job, controller }: Running,
    result: GenerateResult,
    started: number,
  ): Promise<GenerateResult> => {
    const jobId = job.id as string;
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
  };

  /** Why a job ended without a result, turned into the error BullMQ finishes (or retries) it with. */
  const settleError = async (member: Running, error: unknown): Promise<unknown> => {
    const { job, controller, ctx } = member;
    if (error instanceof Cancelled || (controller.signal.aborted && (await cancelled(job.id as string)))) {
      return cancelNow(job, member.lastProgress);
    }
    return failure(job, error, ctx.logger);
  };

  /** One job's whole lifecycle once its render is under way (or refused before it). */
  const finish = async (
    member: Running,
    rendering: () => Promise<GenerateResult>,
  ): Promise<GenerateResult> => {
    try {
      const started = clock();
      return await complete(member, await rendering(), started);
    } catch (error) {
      throw await settleError(member, error);
    } finally {
      running.delete(member.job.id as string);
    }
  };

  const processor = async (
    job: Job<GenerateJobData, GenerateResult>,
    _token?: string,
    bullSignal?: AbortSignal,
  ): Promise<GenerateResult> => {
    const head = begin(job, bullSignal);
    const key = batching !== undefined && job.data.v === 1 ? batching.key(job.data) : undefined;
    const extras = key !== undefined && taker !== undefined ? await taker.take(key, batching!.size - 1) : [];
    if (extras.length === 0) {
      return finish(head, async () => {
        await check(head);
        return render(job.data, head.ctx);
      });
    }
    logger.info({ jobs: [job.id, ...extras.map((held) => held.job.id)] }, 'rendering a batch');
    return renderBatch([
      head,
      ...extras.map((held: HeldJob<GenerateJobData, GenerateResult>) => ({
        ...begin(held.job),
        token: held.token,
      })),
    ]);
  };

  /**
   * The head job (run by BullMQ's loop, whose processor returns its result) and the jobs taken to
   * join it (finished here with their own tokens). Each is checked alone first; those that may
   * render denoise as one batch; each then commits, delivers, fails or retries on its own.
   */
  const renderBatch = async (members: [Running, ...(Running & { token: string })[]]) => {
    const refused = await Promise.all(
      members.map((m) =>
        check(m).then(
          () => undefined,
          (error: unknown) => ({ error }),
        ),
      ),
    );
    const renderable = members.filter((_, i) => refused[i] === undefined);
    const renders =
      renderable.length > 0
        ? batching!.render(renderable.map((m) => ({ data: m.job.data, ctx: m.ctx })))
        : [];
    const outcomes = members.map((member, i) => {
      const at = renderable.indexOf(member);
      return finish(member, () => (at >= 0 ? renders[at]! : Promise.reject(refused[i]!.error)));
    });
    const [, ...extras] = members;
    // The head's outcome is BullMQ's to handle, once the others are finished too.
    const headOutcome = outcomes[0]!;
    headOutcome.catch(() => undefined);
    await Promise.all(
      extras.map((member, i) =>
        outcomes[i + 1]!.then(
          (result) => member.job.moveToCompleted(result, member.token, false),
          (error: unknown) => member.job.moveToFailed(error as Error, member.token),
        )
          .catch((err: unknown) =>
            logger.error({ err, jobId: member.job.id }, 'could not finish a batched job'),
          )
          .finally(() => taker!.release(member.job.id as string)),
      ),
    );
    return headOutcome;
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
  if (batching !== undefined) {
    taker = new BatchTaker({
      worker,
      queue: generate,
      redis,
      lockDurationMs: options.lockDurationMs ?? DEFAULT_LOCK_MS,
      keyOf: (data) => (data.v === 1 ? batching.key(data) : undefined),
      onLockLost: (jobId) => running.get(jobId)?.abort(new Error('lost the job lock')),
      logger,
    });
  }

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

  await worker.waitUntilReady();
  const presence = await announceWorker({
    redis,
    prefix,
    logger,
    clock,
    ...(options.models ? { models: options.models } : {}),
  });
  logger.info(
    { concurrency: options.concurrency, batch: batching?.size ?? 1, id: presence.id },
    'generate worker started',
  );

  return {
    worker,
    sweeper,
    async close() {
      // Unannounced first: admission stops counting on this worker while it finishes its jobs.
      await presence.stop();
      clearInterval(poll);
      await worker.close();
      taker?.close();
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
