import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../src/app/services.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { GenerateResult } from '../../src/queue/job-data.ts';
import { ModelAvailability, STALE_MS, workersKey } from '../../src/queue/worker-presence.ts';
import { type GenerateWorker, startGenerateWorker } from '../../workers/generate.ts';
import { testConfig } from '../admission/support.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

/**
 * Whether a worker serves this deployment is decided within its own database and prefix: two
 * deployments with the same QUEUE_PREFIX on two databases of one Redis server do not count each
 * other's workers (BullMQ's CLIENT LIST count does).
 */

const prefix = uniquePrefix('presence');
const logger = createLogger('silent');
const render = async (): Promise<GenerateResult> => {
  throw new Error('no job is rendered in this file');
};
let services: Services;
const workers: GenerateWorker[] = [];

function onDatabase(db: number): string {
  return `${testRedisUrl()}/${db}`;
}

async function worker(db: number, models?: string[]): Promise<GenerateWorker> {
  const started = await startGenerateWorker({
    redisUrl: onDatabase(db),
    prefix,
    concurrency: 1,
    logger,
    render,
    ...(models ? { models: () => models } : {}),
  });
  workers.push(started);
  return started;
}

beforeAll(async () => {
  services = await createServices(testConfig({ REDIS_URL: onDatabase(0) }), logger, { prefix });
});

afterAll(async () => {
  for (const w of workers) await w.close();
  await services?.close();
});

describe('worker presence', () => {
  it("does not count another deployment's worker on another database", async () => {
    await worker(1);
    // The premise: BullMQ's own count sees the other database's worker.
    expect(await services.queues.generate.getWorkersCount()).toBeGreaterThanOrEqual(1);
    expect(await services.workers.online()).toEqual([]);
    expect((await services.systemLoad()).workersOnline).toBe(0);
  });

  it('counts its own worker with its models, and forgets it the moment it stops', async () => {
    const own = await worker(0, ['tiny', 'easel-mini']);
    const online = await services.workers.online();
    expect(online).toHaveLength(1);
    expect(online[0]?.models).toEqual(['tiny', 'easel-mini']);
    expect((await services.systemLoad()).workersOnline).toBe(1);
    await own.close();
    expect(await services.workers.online()).toEqual([]);
  });

  it('ignores and removes the line of a worker that died without saying so', async () => {
    const line = {
      id: 'gone:1:abc',
      host: 'gone',
      pid: 1,
      models: ['tiny'],
      seenAt: Date.now() - STALE_MS - 1,
    };
    await services.redis.hset(workersKey(prefix), line.id, JSON.stringify(line));
    expect(await services.workers.online()).toEqual([]);
    expect(await services.redis.hexists(workersKey(prefix), line.id)).toBe(0);
  });
});

describe('model availability', () => {
  const live = (models: string[] | null) => [{ id: 'w', host: 'h', pid: 1, models, seenAt: Date.now() }];

  it('refuses a model no live worker has, naming what they have', async () => {
    const availability = new ModelAvailability(async () => live(['tiny', 'easel-mini']));
    expect(await availability.problem('tiny')).toBeUndefined();
    expect(await availability.problem('sd-1.5')).toBe(
      'sd-1.5 is not installed on any render worker (they have easel-mini, tiny); pick another model, or ask ' +
        'the operator to install it (easel models download)',
    );
  });

  it('never refuses on a guess: no worker online, a worker that does not say, or Redis down', async () => {
    expect(await new ModelAvailability(async () => []).problem('sd-1.5')).toBeUndefined();
    expect(await new ModelAvailability(async () => live(null)).problem('sd-1.5')).toBeUndefined();
    const down = new ModelAvailability(async () => {
      throw new Error('ECONNREFUSED');
    });
    expect(await down.problem('sd-1.5')).toBeUndefined();
  });

  it('reads the workers once per snapshot, not once a request', async () => {
    let reads = 0;
    let now = 0;
    const availability = new ModelAvailability(
      async () => {
        reads++;
        return live(['tiny']);
      },
      2_000,
      () => now,
    );
    await Promise.all(Array.from({ length: 50 }, () => availability.problem('tiny')));
    expect(reads).toBe(1);
    now += 2_001;
    await availability.problem('tiny');
    expect(reads).toBe(2);
  });
});
