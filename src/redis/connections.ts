import { Redis, type RedisOptions } from 'ioredis';

/**
 * The one place Redis connections are made. BullMQ workers (and QueueEvents) block and must never
 * give up on a command (`maxRetriesPerRequest: null`); producers on a request path fail fast
 * instead of queueing commands while Redis is down, so a member gets a clear error at once.
 */
export type ConnectionRole = 'worker' | 'producer';

export function redisOptions(role: ConnectionRole): RedisOptions {
  if (role === 'worker') return { maxRetriesPerRequest: null, enableReadyCheck: true };
  return {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
}

export function createRedis(url: string, role: ConnectionRole, name = 'easel'): Redis {
  const redis = new Redis(url, {
    ...redisOptions(role),
    connectionName: name,
    lazyConnect: role === 'producer',
  });
  // An unhandled 'error' event would crash the process; connection trouble is reported by callers.
  redis.on('error', () => {});
  return redis;
}

/** Connects a lazily-connecting producer, failing with a clear message when Redis is down. */
export async function connectProducer(redis: Redis): Promise<Redis> {
  if (redis.status === 'ready') return redis;
  if (redis.status === 'wait') await redis.connect();
  return redis;
}
