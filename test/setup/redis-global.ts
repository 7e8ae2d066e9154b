import type { TestProject } from 'vitest/node';
import {
  type PrivateRedis,
  redisServerOnPath,
  startPrivateRedis,
} from '../../src/redis/private-redis-server.ts';
import { type LocalCluster, startRedisCluster } from '../support/redis-cluster.ts';

/**
 * The tests own their Redis: a private redis-server on a free port with no persistence, so they
 * never touch a Redis that holds someone's data. Without redis-server on PATH they use
 * EASEL_TEST_REDIS_URL, and refuse to run otherwise.
 *
 * With EASEL_TEST_REDIS_CLUSTER=1 they get a real three-primary Redis Cluster with a replica each
 * instead (test/support/redis-cluster.ts), so the suite's Redis-facing tests prove the `{easel}`
 * hash tag and the Lua scripts on a cluster: see the README (Running at scale) for the set run so.
 */
let redis: PrivateRedis | undefined;
let cluster: LocalCluster | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.EASEL_TEST_REDIS_URL;
  if (process.env.EASEL_TEST_REDIS_CLUSTER === '1') {
    cluster = await startRedisCluster();
    project.provide('redisUrl', cluster.url);
    return;
  }
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
  await cluster?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
