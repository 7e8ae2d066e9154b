import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import { BatchTaker } from '../../src/queue/batch-taker.ts';
import { testRedis, uniquePrefix } from '../support/redis.ts';

/**
 * The batch taker against BullMQ on the real Redis: what it takes is exactly what BullMQ would hand
 * out next, in order, and a job taken in a race that does not fit goes back to where it was.
 */
interface Data {
  key: string;
}

const prefix = uniquePrefix('batch-taker');
let redis: Redis;
let queue: Queue<Data>;
let worker: Worker<Data>;

beforeAll(async () => {
  redis = testRedis();
  queue = new Queue<Data>('jobs', { connection: redis, prefix });
  worker = new Worker<Data>('jobs', null, { connection: testRedis(), prefix, autorun: false });
  await worker.waitUntilReady();
});

afterAll(async () => {
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await redis.quit();
});

function taker(keyOf: (data: Data) => string | undefined) {
  return new BatchTaker<Data, unknown>({
    worker,
    queue,
    redis,
    lockDurationMs: 30_000,
    keyOf,
    onLockLost: () => undefined,
    logger: createLogger('silent'),
  });
}

async function drain(): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const job = await worker.getNextJob('drain', { block: false });
    if (job === undefined) return ids;
    ids.push(job.id as string);
    await job.moveToCompleted('done', 'drain', false);
  }
}

describe('filling a batch from the head of the queue', () => {
  it('takes the matching jobs in priority order and stops at the first that does not match', async () => {
    await queue.add('j', { key: 'a' }, { jobId: 'p2-a', priority: 2 });
    await queue.add('j', { key: 'a' }, { jobId: 'p1-a', priority: 1 });
    await queue.add('j', { key: 'b' }, { jobId: 'p1-b', priority: 1 });
    await queue.add('j', { key: 'a' }, { jobId: 'p1-a2', priority: 1 });
    const batch = taker((data) => data.key);
    try {
      const taken = await batch.take('a', 3);
      // p1-a first; p1-b is next and does not match, so p1-a2 and p2-a stay where they are.
      expect(taken.map((held) => held.job.id)).toEqual(['p1-a']);
      for (const held of taken) await held.job.moveToCompleted('done', held.token, false);
      expect(await drain()).toEqual(['p1-b', 'p1-a2', 'p2-a']);
    } finally {
      batch.close();
    }
  });

  it('stops at the room it was given', async () => {
    for (const id of ['r1', 'r2', 'r3']) await queue.add('j', { key: 'a' }, { jobId: id, priority: 1 });
    const batch = taker((data) => data.key);
    try {
      const taken = await batch.take('a', 2);
      expect(taken.map((held) => held.job.id)).toEqual(['r1', 'r2']);
      for (const held of taken) await held.job.moveToCompleted('done', held.token, false);
      expect(await drain()).toEqual(['r3']);
    } finally {
      batch.close();
    }
  });

  it('hands back, to the front of its priority, a job that another worker changed under it', async () => {
    await queue.add('j', { key: 'a' }, { jobId: 'race-1', priority: 3 });
    await queue.add('j', { key: 'a' }, { jobId: 'race-2', priority: 3 });
    // The look at the head says it fits; what is taken says it does not (as when another worker
    // took the head between the look and the take, and the next job is another kind).
    let looks = 0;
    const batch = taker(() => (looks++ === 0 ? 'a' : 'b'));
    try {
      expect(await batch.take('a', 3)).toEqual([]);
      expect(await queue.getJobState('race-1')).toBe('prioritized');
      expect(await drain()).toEqual(['race-1', 'race-2']);
    } finally {
      batch.close();
    }
  });
});
