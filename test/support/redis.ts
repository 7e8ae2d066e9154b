import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** The private test Redis started by test/setup/redis-global.ts. */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** A BullMQ prefix unique to one test file (hash-tagged like production's `{easel}`). */
export function uniquePrefix(name: string): string {
  return `{test-${name}-${randomBytes(4).toString('hex')}}`;
}

export function testRedis(): Redis {
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
}
