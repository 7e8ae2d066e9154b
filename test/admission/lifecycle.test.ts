import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.ts';
import { CodedError } from '../../src/errors/coded-error.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { DeliverJobData, GenerateResult } from '../../src/queue/job-data.ts';
import { createRedis } from '../../src/redis/connections.ts';
import { type GenerateWorker, type RenderFunction, startGenerateWorker } from '../../workers/generate.ts';
import { testRedisUrl } from '../support/redis.ts';
import { accepted, admission, member, testServices } from './support.ts';

let services: Services;
let prefix: string;

beforeAll(async () => {
  ({ services, prefix } = await testServices('lifecycle'));
});
afterAll(async () => {
  await services.close();
});

const discordOrigin = {
  platform: 'discord' as const,
  applicationId: 'app',
  interactionId: 'i1',
  interactionToken: 'tok',
  interactionCreatedAt: Date.now(),
  guildId: 'guild-a',
  channelId: 'c1',
};

function result(seed: number): GenerateResult {
  return {
    v: 1,
    images: [{ artifactId: 'a'.repeat(32), width: 512, height: 512, bytes: 10, seed, nsfw: null }],
    seed,
    model: 'easel-mini',
    provider: 'cpu',
    truncatedWords: [],
    timings: { loadMs: 0, renderMs: 1, totalMs: 1 },
  };
}

const quick: RenderFunction = async (data, ctx) => {
  await ctx.reportProgress({ step: 1, total: 2 });
  await ctx.reportProgress({ step: 2, total: 2 });
  return result(data.request.seed);
};

async function worker(
  render: RenderFunction,
  extra: Partial<Parameters<typeof startGenerateWorker>[0]> = {},
) {
  return startGenerateWorker({
    redisUrl: testRedisUrl(),
    prefix,
    concurrency: 1,
    render,
    logger: createLogger('silent'),
    cancelPollMs: 50,
    // BullMQ skips stall checks for one interval after any worker's check: keep them all short here.
    lockDurationMs: 1000,
    stalledIntervalMs: 300,
    ...extra,
  });
}

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function deliveries(jobId: string): Promise<DeliverJobData[]> {
  const jobs = await services.queues.deliver.getJobs([
    'wait',
    'prioritized',
    'active',
    'completed',
    'delayed',
  ]);
  return jobs.filter((j) => j.data.jobId === jobId).map((j) => j.data);
}

describe('generate job lifecycle', () => {
  let running: GenerateWorker | undefined;
  const stop = async () => {
    await running?.close();
    running = undefined;
  };
  // A failed test must not leave its worker taking the next test's jobs.
  afterEach(stop);

  it('commits once on success, reports progress and enqueues one result delivery', async () => {
    const who = member('painter');
    const progress: number[] = [];
    const off = services.progress.onProgress((e) => {
      progress.push(e.progress.step);
    });
    await services.progress.queueEvents();
    const job = accepted(await services.admission.admit(admission(who, {}, { origin: discordOrigin })));
    running = await worker(quick);
    const view = await services.jobs.waitForResult(job.jobId, 10_000);
    await stop();
    off();
    expect(view?.state).toBe('completed');
    expect(view?.result?.seed).toBe(42);
    expect(progress).toEqual([1, 2]);
    const balance = await services.credits.balance(who);
    expect(balance).toMatchObject({ total: 9, reserved: 0 });
    const kinds = (await services.credits.history(who)).map((e) => e.kind);
    expect(kinds).toEqual(['commit', 'reserve', 'daily-allowance']);
    const sent = await deliveries(job.jobId);
    expect(sent.map((d) => d.kind)).toEqual(['result']);
    expect(sent[0]?.result?.seed).toBe(42);
  });

  it('commits once when a job completes twice (it stalled, ran again, and the first run finished too)', async () => {
    const who = member('twice');
    const job = accepted(await services.admission.admit(admission(who, {}, { origin: discordOrigin })));
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let runs = 0;
    // The first run hangs; its lock is deleted as if it had expired, so the stall checker hands the
    // job to another slot while the first run is still going.
    running = await worker(
      async (data) => {
        runs++;
        if (runs === 1) await gate;
        return result(data.request.seed);
      },
      { concurrency: 2 },
    );
    const redis = createRedis(testRedisUrl(), 'worker');
    try {
      await until(
        () => services.queues.generate.getJobCounts('active'),
        (c) => c.active === 1,
      );
      // What a crash leaves behind: the job in `active` with no lock; the stall checker re-queues it.
      await redis.del(`${prefix}:generate:${job.jobId}:lock`);
      await until(
        async () => runs,
        (n) => n >= 2,
      );
      await until(
        () => services.jobs.get(job.jobId),
        (v) => v?.state === 'completed',
      );
    } finally {
      release();
      await redis.quit();
    }
    await new Promise((r) => setTimeout(r, 300));
    await stop();
    expect(runs).toBe(2);
    const history = await services.credits.history(who);
    expect(history.filter((e) => e.kind === 'commit')).toHaveLength(1);
    expect(history.filter((e) => e.kind === 'refund')).toHaveLength(0);
    expect((await services.credits.balance(who)).total).toBe(9);
    expect((await deliveries(job.jobId)).map((d) => d.kind)).toEqual(['result']);
  });

  it('retries a transient error, and on the final failure refunds once and tells the member', async () => {
    const who = member('unlucky');
    const job = accepted(await services.admission.admit(admission(who, {}, { origin: discordOrigin })));
    let runs = 0;
    running = await worker(async () => {
      runs++;
      throw new Error('CUDA out of memory');
    });
    // Skip the backoff between attempts: promote delayed retries as they appear.
    const promoter = setInterval(() => {
      void services.queues.generate
        .getJobs(['delayed'])
        .then((jobs) => Promise.all(jobs.map((j) => j.promote().catch(() => undefined))));
    }, 100);
    const view = await until(
      () => services.jobs.get(job.jobId),
      (v) => v?.state === 'failed',
      20_000,
    );
    clearInterval(promoter);
    await stop();
    expect({ runs, attemptsMade: view?.attemptsMade, reason: view?.failedReason }).toEqual({
      runs: 3,
      attemptsMade: 3,
      reason: 'CUDA out of memory',
    });
    const history = await services.credits.history(who);
    expect(history.filter((e) => e.kind === 'refund')).toHaveLength(1);
    expect(history.filter((e) => e.kind === 'commit')).toHaveLength(0);
    expect(await services.credits.balance(who)).toMatchObject({ total: 10, reserved: 0 });
    const sent = await deliveries(job.jobId);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: 'failure', failure: { refunded: 1 } });
    expect(sent[0]?.failure?.message).toMatch(/internal error/);
  });

  it('does not retry errors no retry can fix (a missing model), and refunds at once', async () => {
    const who = member('modelless');
    const job = accepted(await services.admission.admit(admission(who, {}, { origin: discordOrigin })));
    let runs = 0;
    running = await worker(async () => {
      runs++;
      throw new CodedError('model-missing', 'no unet/model.onnx');
    });
    await until(
      () => services.jobs.get(job.jobId),
      (v) => v?.state === 'failed',
    );
    await stop();
    expect(runs).toBe(1);
    expect((await services.credits.balance(who)).total).toBe(10);
    const [notice] = await deliveries(job.jobId);
    expect(notice?.failure?.message).toBe('The model is not installed on the render workers.');
  });

  it('cancels a waiting job: removed from the queue and refunded', async () => {
    const who = member('changed-mind');
    const job = accepted(await services.admission.admit(admission(who)));
    const outcome = await services.jobs.cancel(job.jobId, who);
    expect(outcome).toEqual({ was: 'waiting', refunded: 1 });
    expect(await services.queues.generate.getJob(job.jobId)).toBeUndefined();
    expect((await services.jobs.get(job.jobId))?.state).toBe('cancelled');
    expect(await services.credits.balance(who)).toMatchObject({ total: 10, reserved: 0 });
    await expect(services.jobs.cancel(job.jobId, who)).rejects.toThrow(/already cancelled/);
  });

  it("refuses to cancel someone else's job unless an admin asks", async () => {
    const who = member('owner');
    const job = accepted(await services.admission.admit(admission(who)));
    await expect(services.jobs.cancel(job.jobId, member('stranger'))).rejects.toThrow(/your own jobs/);
    await expect(services.jobs.cancel(job.jobId, member('owner', 'guild-z'))).rejects.toThrow(
      /your own jobs/,
    );
    const outcome = await services.jobs.cancel(job.jobId, member('moderator'), { isAdmin: true });
    expect(outcome.refunded).toBe(1);
    await expect(services.jobs.cancel('g000000000000000000000000', who)).rejects.toThrow(/no job/);
  });

  it('cancels a rendering job through its AbortSignal and refunds it', async () => {
    const who = member('impatient');
    const job = accepted(await services.admission.admit(admission(who, {}, { origin: discordOrigin })));
    let aborted = false;
    running = await worker(async (data, ctx) => {
      for (let step = 1; step <= 1000; step++) {
        if (ctx.signal.aborted) {
          aborted = true;
          throw ctx.signal.reason;
        }
        await ctx.reportProgress({ step, total: 1000 });
        await new Promise((r) => setTimeout(r, 20));
      }
      return result(data.request.seed);
    });
    await until(
      () => services.jobs.get(job.jobId),
      (v) => (v?.progress?.step ?? 0) >= 2,
    );
    const outcome = await services.jobs.cancel(job.jobId, who);
    expect(outcome).toEqual({ was: 'active', refunded: 1 });
    const view = await until(
      () => services.jobs.get(job.jobId),
      (v) => v?.state === 'cancelled',
    );
    await stop();
    expect(aborted).toBe(true);
    expect(view?.failedReason).toBe('cancelled');
    expect(await services.credits.balance(who)).toMatchObject({ total: 10, reserved: 0 });
    expect(await deliveries(job.jobId)).toEqual([]);
    const kinds = (await services.credits.history(who)).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'refund')).toHaveLength(1);
  });

  it('refunds instead of committing when the cancel lands as a render that ignores the signal finishes', async () => {
    const who = member('late-cancel');
    const job = accepted(await services.admission.admit(admission(who, {}, { origin: discordOrigin })));
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    running = await worker(
      async (data) => {
        await gate;
        return result(data.request.seed);
      },
      { cancelPollMs: 60_000 },
    );
    let cancelling: Promise<unknown> = Promise.resolve();
    try {
      await until(
        () => services.queues.generate.getJobCounts('active'),
        (c) => c.active === 1,
      );
      cancelling = services.jobs.cancel(job.jobId, who);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      release();
    }
    expect(await cancelling).toEqual({ was: 'active', refunded: 1 });
    await until(
      () => services.jobs.get(job.jobId),
      (v) => v?.state === 'cancelled',
    );
    await stop();
    expect((await services.credits.balance(who)).total).toBe(10);
    expect((await services.credits.history(who)).some((e) => e.kind === 'commit')).toBe(false);
  });

  it('refunds, through the sweeper, a job removed from the queue by hand', async () => {
    const who = member('orphan');
    const input = admission(who, {}, { origin: discordOrigin });
    const job = accepted(await services.admission.admit(input));
    expect(await services.credits.balance(who)).toMatchObject({ total: 9, reserved: 1 });
    // An operator removes the waiting job (a queue dashboard, Queue.remove): its hash, with the
    // reservation on it, is gone; the open-reservations set still has it.
    await (await services.queues.generate.getJob(job.jobId))?.remove();
    running = await worker(quick);
    expect(await running.sweeper.sweep(-1)).toBe(1);
    expect(await running.sweeper.sweep(-1)).toBe(0);
    await stop();
    expect(await services.credits.balance(who)).toMatchObject({ total: 10, reserved: 0 });
    const refund = (await services.credits.history(who)).find((e) => e.kind === 'refund');
    expect(refund).toMatchObject({ jobId: job.jobId, amount: 1, reason: 'removed from the queue' });
    // Nobody can be told where it was asked for: the job's data went with it.
    expect(await deliveries(job.jobId)).toEqual([]);
    // The same request again is the same (now settled) job, not a second charge.
    const again = await services.admission.admit(input);
    expect(again).toMatchObject({ accepted: true, jobId: job.jobId });
    expect((await services.credits.balance(who)).total).toBe(10);
  });

  it('refunds, through the sweeper, a job BullMQ failed without our processor (too many stalls)', async () => {
    const who = member('stalled-out');
    const job = accepted(await services.admission.admit(admission(who, {}, { origin: discordOrigin })));
    // A bare BullMQ worker stands for BullMQ failing the job itself, as it does past maxStalledCount.
    const connection = createRedis(testRedisUrl(), 'worker');
    const bare = new Worker(
      'generate',
      async () => {
        throw new UnrecoverableError('job stalled more than allowable limit');
      },
      { connection, prefix },
    );
    await until(
      () => services.queues.generate.getJobState(job.jobId),
      (s) => s === 'failed',
    );
    await bare.close();
    await connection.quit();
    running = await worker(quick);
    expect(await running.sweeper.sweep(-1)).toBe(1);
    await stop();
    expect(await services.credits.balance(who)).toMatchObject({ total: 10, reserved: 0 });
    const [notice] = await deliveries(job.jobId);
    expect(notice?.failure?.message).toBe('The render worker stopped repeatedly while working on this job.');
  });

  it('does not run a job that admission never reserved', async () => {
    const stray = await services.queues.generate.add(
      'generate',
      {
        v: 1,
        requestId: 'x',
        request: (await import('./support.ts')).request(),
        member: member('nobody'),
        origin: { platform: 'cli' },
        cost: 1,
        createdAt: Date.now(),
      },
      { jobId: 'g111111111111111111111111', priority: 1 },
    );
    let ran = false;
    running = await worker(async (data) => {
      ran = true;
      return result(data.request.seed);
    });
    const view = await until(
      () => services.jobs.get(stray.id as string),
      (v) => v?.state === 'failed',
    );
    await stop();
    expect(ran).toBe(false);
    expect(view?.failedReason).toMatch(/not admitted/);
  });
});
