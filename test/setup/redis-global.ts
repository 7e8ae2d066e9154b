import type { TestProject } from 'vitest/node';
import {
  type PrivateRedis,
  redisServerOnPath,
  startPrivateRedis,
} from '../../src/redis/private-redis-server.ts';

/**
 * The tests own their Redis: a private redis-server on a free port with no persistence, so they
 * never touch a Redis that holds someone's data. Without redis-server on PATH they use
 * EASEL_TEST_REDIS_URL, and refuse to run otherwise.
 */
let redis: PrivateRedis | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.EASEL_TEST_REDIS_URL;
  if (redisServerOnPath()) {
    redis = await startPrivateRedis();
    url = redis.url;
  }
  if (!url) {
    throw new Error(
      'Tests need redis-server on PATH (apt-get install redis-server) or EASEL_TEST_REDIS_URL set.',
    );
  }
  project.provide('redisUrl', url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
