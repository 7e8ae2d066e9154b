import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createRedis } from '../../src/redis/connections.ts';

/** The private test Redis started by test/setup/redis-global.ts. */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** A BullMQ prefix unique to one test file (hash-tagged like production's `{easel}`). */
export function uniquePrefix(name: string): string {
  return `{test-${name}-${randomBytes(4).toString('hex')}}`;
}

/** A connection to the test Redis, or to the test cluster under EASEL_TEST_REDIS_CLUSTER=1. */
export function testRedis(): Redis {
  return createRedis(testRedisUrl(), 'worker', 'easel-test');
}

/**
 * KEYS for a pattern on a single server or a cluster. A cluster client sends KEYS to one node,
 * which holds only its own slots, so every primary is asked (a hash-tagged prefix lives on one).
 */
export async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const cluster = redis as unknown as { isCluster?: boolean; nodes?: (role: 'master') => Redis[] };
  if (!cluster.isCluster || !cluster.nodes) return redis.keys(pattern);
  const perNode = await Promise.all(cluster.nodes('master').map((node) => node.keys(pattern)));
  return perNode.flat();
}
