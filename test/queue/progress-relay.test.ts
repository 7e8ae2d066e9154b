import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import type { GenerateJobData, GenerateResult } from '../../src/queue/job-data.ts';
import type { JobProgress } from '../../src/queue/job-view.ts';
import { ProgressRelay } from '../../src/queue/progress-relay.ts';
import { createRedis } from '../../src/redis/connections.ts';
import { GENERATE_QUEUE } from '../../src/state/keys.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

/**
 * A frontend that starts listening and then sees a job start must get all of the job's events:
 * BullMQ's QueueEvents reads from "$" only after a round trip of its own, so an event written right
 * after it reports ready used to be lost (a job's first progress, now and then, on a Redis Cluster).
 */
const prefix = uniquePrefix('relay');
const logger = createLogger('silent');
let generate: Queue<GenerateJobData, GenerateResult>;

beforeAll(() => {
  generate = new Queue(GENERATE_QUEUE, {
    connection: createRedis(testRedisUrl(), 'producer', 'test-relay'),
    prefix,
  });
});

afterAll(async () => {
  await generate.obliterate({ force: true });
  await generate.close();
});

/** Waits for `done`, for 5 s at most: a lost event fails the expectation after it, not the test's timeout. */
const within = (done: Promise<void>) => Promise.race([done, new Promise((r) => setTimeout(r, 5_000))]);

const progressOf = (step: number): JobProgress => ({ step, total: 2 }) as unknown as JobProgress;

describe('progress relay', () => {
  it('delivers an event written the moment listening has started, every time', async () => {
    for (let round = 0; round < 10; round++) {
      const job = await generate.add('generate', { jobId: `relay-${round}` } as unknown as GenerateJobData);
      const relay = new ProgressRelay({ redisUrl: testRedisUrl(), prefix, generate, logger });
      const seen: number[] = [];
      const done = new Promise<void>((resolve) => {
        relay.onProgress((event) => {
          seen.push(event.progress.step);
          if (seen.length === 2) resolve();
        });
      });
      await relay.queueEvents();
      await job.updateProgress(progressOf(1));
      await job.updateProgress(progressOf(2));
      await within(done);
      expect(seen, `round ${round}`).toEqual([1, 2]);
      await relay.close();
    }
  });

  it('does not replay events written before listening started', async () => {
    const job = await generate.add('generate', { jobId: 'relay-old' } as unknown as GenerateJobData);
    await job.updateProgress(progressOf(1));
    const relay = new ProgressRelay({ redisUrl: testRedisUrl(), prefix, generate, logger });
    const seen: number[] = [];
    const done = new Promise<void>((resolve) => {
      relay.onProgress((event) => {
        seen.push(event.progress.step);
        resolve();
      });
    });
    await relay.queueEvents();
    await job.updateProgress(progressOf(2));
    await within(done);
    expect(seen).toEqual([2]);
    await relay.close();
  });

  it('starts one QueueEvents for callers that ask at once', async () => {
    const relay = new ProgressRelay({ redisUrl: testRedisUrl(), prefix, generate, logger });
    const [a, b] = await Promise.all([relay.queueEvents(), relay.queueEvents()]);
    expect(a).toBe(b);
    await relay.close();
  });
});
