import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { GenerateJobData, GenerateResult } from '../../src/queue/job-data.ts';
import { startGenerateWorker } from '../../workers/generate.ts';
import { waitForLine } from '../support/child-process.ts';
import { testRedisUrl } from '../support/redis.ts';
import { accepted, admission, member, testServices } from './support.ts';

let services: Services;
let prefix: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  ({ services, prefix } = await testServices('worker-crash'));
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await services.close();
});

function fakeResult(data: GenerateJobData): GenerateResult {
  return {
    v: 1,
    images: [
      { artifactId: 'b'.repeat(32), width: 512, height: 512, bytes: 1, seed: data.request.seed, nsfw: null },
    ],
    seed: data.request.seed,
    model: data.request.model,
    provider: 'cpu',
    truncatedWords: [],
    timings: { loadMs: 0, renderMs: 1, totalMs: 1 },
  };
}

describe('a worker process killed mid-render', () => {
  it('re-runs the job on another worker and charges it once', async () => {
    const who = member('crash-victim');
    const job = accepted(await services.admission.admit(admission(who, {}, { origin: { platform: 'cli' } })));

    child = spawn(process.execPath, ['--import', 'tsx', 'test/admission/fixtures/slow-render-worker.ts'], {
      env: { ...process.env, TEST_REDIS_URL: testRedisUrl(), TEST_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await waitForLine(child, /^rendering /);
    expect(line).toBe(`rendering ${job.jobId}`);
    const exited = new Promise((resolve) => child?.once('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect((await services.jobs.get(job.jobId))?.state).toBe('active');

    let runs = 0;
    const survivor = await startGenerateWorker({
      redisUrl: testRedisUrl(),
      prefix,
      concurrency: 1,
      logger: createLogger('silent'),
      lockDurationMs: 1000,
      stalledIntervalMs: 300,
      async render(data) {
        runs++;
        return {
          v: 1,
          images: [
            {
              artifactId: 'b'.repeat(32),
              width: 512,
              height: 512,
              bytes: 1,
              seed: data.request.seed,
              nsfw: null,
            },
          ],
          seed: data.request.seed,
          model: data.request.model,
          provider: 'cpu',
          truncatedWords: [],
          timings: { loadMs: 0, renderMs: 1, totalMs: 1 },
        };
      },
    });
    try {
      const view = await services.jobs.waitForResult(job.jobId, 20_000);
      expect(view?.state).toBe('completed');
      expect(view?.result?.seed).toBe(42);
    } finally {
      await survivor.close();
    }
    expect(runs).toBe(1);
    const history = await services.credits.history(who);
    expect(history.filter((e) => e.kind === 'commit')).toHaveLength(1);
    expect(history.filter((e) => e.kind === 'refund')).toHaveLength(0);
    expect(await services.credits.balance(who)).toMatchObject({ total: 9, reserved: 0 });
  });

  it('re-runs every job of a batch it was rendering and charges each once', async () => {
    const members = ['batch-victim-0', 'batch-victim-1', 'batch-victim-2'].map((name) => member(name));
    const jobs = [];
    for (const who of members) {
      jobs.push(
        accepted(await services.admission.admit(admission(who, {}, { origin: { platform: 'cli' } }))),
      );
    }
    const ids = jobs.map((job) => job.jobId);

    child = spawn(process.execPath, ['--import', 'tsx', 'test/admission/fixtures/slow-batch-worker.ts'], {
      env: { ...process.env, TEST_REDIS_URL: testRedisUrl(), TEST_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await waitForLine(child, /^rendering /);
    expect(line).toBe(`rendering ${ids.join(',')}`);
    const exited = new Promise((resolve) => child?.once('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    for (const id of ids) expect((await services.jobs.get(id))?.state).toBe('active');

    const runs = new Map<string, number>();
    const count = (jobId: string) => runs.set(jobId, (runs.get(jobId) ?? 0) + 1);
    const survivor = await startGenerateWorker({
      redisUrl: testRedisUrl(),
      prefix,
      concurrency: 1,
      logger: createLogger('silent'),
      lockDurationMs: 1000,
      stalledIntervalMs: 300,
      async render(data, ctx) {
        count(ctx.jobId);
        return fakeResult(data);
      },
      batch: {
        size: 3,
        key: () => 'all the same',
        render: (batch) =>
          batch.map(async ({ data, ctx }) => {
            count(ctx.jobId);
            return fakeResult(data);
          }),
      },
    });
    try {
      for (const id of ids) expect((await services.jobs.waitForResult(id, 20_000))?.state).toBe('completed');
    } finally {
      await survivor.close();
    }
    expect(ids.map((id) => runs.get(id))).toEqual([1, 1, 1]);
    for (const who of members) {
      const history = await services.credits.history(who);
      expect(history.filter((e) => e.kind === 'commit')).toHaveLength(1);
      expect(history.filter((e) => e.kind === 'refund')).toHaveLength(0);
      expect(await services.credits.balance(who)).toMatchObject({ total: 9, reserved: 0 });
    }
  });
});
