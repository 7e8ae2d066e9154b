import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startMetricsServer } from '../../src/metrics/metrics-server.ts';
import { estimateSeconds } from '../../src/queue/eta.ts';
import type { GenerateResult } from '../../src/queue/job-data.ts';
import type { FailedEvent } from '../../src/queue/progress-relay.ts';
import { startGenerateWorker } from '../../workers/generate.ts';
import { testRedisUrl } from '../support/redis.ts';
import { accepted, admin, admission, member, testServices } from './support.ts';

let services: Services;
let prefix: string;

beforeAll(async () => {
  ({ services, prefix } = await testServices('fairness'));
});
afterAll(async () => {
  await services.close();
});

const result = (seed: number): GenerateResult => ({
  v: 1,
  images: [],
  seed,
  model: 'easel-mini',
  provider: 'cpu',
  truncatedWords: [],
  timings: { loadMs: 0, renderMs: 1, totalMs: 1 },
});

function worker(render: Parameters<typeof startGenerateWorker>[0]['render']) {
  return startGenerateWorker({
    redisUrl: testRedisUrl(),
    prefix,
    concurrency: 1,
    render,
    logger: createLogger('silent'),
  });
}

describe('fairness', () => {
  it("runs member B's one job second when member A queued five before it", async () => {
    const a = member('queue-hog');
    const b = member('newcomer');
    const tierScope = { kind: 'discord' as const, id: 'guild-a' };
    const order: string[] = [];
    for (let i = 0; i < 5; i++) accepted(await services.admission.admit(admission(a)));
    accepted(await services.admission.admit(admission(b)));
    // A supporter's first job outranks plain members' first jobs (tier priority on top).
    await services.quotas.set(admin(), tierScope, { tiers: { set: [{ role: 'supporter', priority: 9 }] } });
    accepted(await services.admission.admit(admission(member('patron', 'guild-a', ['supporter']))));

    const running = await worker(async (data) => {
      order.push(data.member.userId);
      return result(data.request.seed);
    });
    try {
      const deadline = Date.now() + 15_000;
      while (order.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await running.close();
    }
    expect(order).toEqual([
      'patron',
      'queue-hog',
      'newcomer',
      'queue-hog',
      'queue-hog',
      'queue-hog',
      'queue-hog',
    ]);
  });
});

describe('system load, ETA and metrics', () => {
  it('estimates: jobs ahead share the busy slots, then this job runs', () => {
    expect(estimateSeconds({ position: 1, active: 0, ownMs: 4000, anyMs: 2000 })).toBe(4);
    // 5 ahead + 2 running on 2 slots: 4 rounds of 2 s, then 4 s of its own.
    expect(estimateSeconds({ position: 6, active: 2, ownMs: 4000, anyMs: 2000 })).toBe(12);
    expect(estimateSeconds({ position: 3, active: 1 })).toBeUndefined();
  });

  it('reports depth by state, workers online, average processing time and an ETA', async () => {
    const who = member('loader');
    // Feed the moving average: one job that takes about 200 ms (after the quick ones above).
    const first = accepted(await services.admission.admit(admission(who)));
    const running = await worker(async (data) => {
      await new Promise((r) => setTimeout(r, 200));
      return result(data.request.seed);
    });
    try {
      await services.jobs.waitForResult(first.jobId, 10_000);
      const load = await services.systemLoad();
      expect(load.workersOnline).toBeGreaterThanOrEqual(1);
      expect(load.averageProcessingSeconds).toBeGreaterThan(0.03);
      expect(load.averageProcessingSeconds).toBeLessThan(2);
      expect(load.generate.completed).toBeGreaterThanOrEqual(1);
    } finally {
      await running.close();
    }
    const queued = [];
    for (let i = 0; i < 3; i++) queued.push(accepted(await services.admission.admit(admission(who))));
    const load = await services.systemLoad();
    expect(load.generate.waiting).toBe(3);
    expect(load.etaSecondsForNewJob).toBeGreaterThanOrEqual(1);
    const view = await services.jobs.get(queued[2]?.jobId as string);
    expect(view?.position).toBe(3);
    expect(view?.etaSeconds).toBeGreaterThanOrEqual(1);
    for (const job of queued) await services.jobs.cancel(job.jobId, who);
  });

  it('serves Prometheus metrics: admissions by outcome, queue depth, credits', async () => {
    accepted(await services.admission.admit(admission(member('counted'))));
    const server = await startMetricsServer({ redisUrl: testRedisUrl(), prefix, port: 0, host: '127.0.0.1' });
    try {
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(text).toMatch(/easel_admissions_total\{outcome="accepted"\} \d+/);
      expect(text).toMatch(/easel_queue_depth\{queue="generate",state="prioritized"\} 1/);
      expect(text).toMatch(/easel_credits_spent_total \d+/);
      expect(text).toMatch(/easel_job_duration_seconds_bucket/);
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('relays a final failure once, not each failed attempt', async () => {
    const who = member('relayed');
    const failures: FailedEvent[] = [];
    const off = services.progress.onFailed((e) => {
      if (e.data.member.userId === 'relayed') failures.push(e);
    });
    await services.progress.queueEvents();
    // Drain what earlier tests left waiting so this job is the next to run.
    await services.queues.generate.drain();
    const job = accepted(await services.admission.admit(admission(who)));
    let runs = 0;
    const running = await worker(async () => {
      runs++;
      throw new Error('flaky GPU');
    });
    const promoter = setInterval(() => {
      void services.queues.generate
        .getJobs(['delayed'])
        .then((jobs) => Promise.all(jobs.map((j) => j.promote().catch(() => undefined))));
    }, 100);
    try {
      await services.jobs.waitForResult(job.jobId, 20_000);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      clearInterval(promoter);
      off();
      await running.close();
    }
    expect(runs).toBe(3);
    expect(failures.map((f) => [f.jobId, f.failedReason, f.cancelled])).toEqual([
      [job.jobId, 'flaky GPU', false],
    ]);
  });
});
