import { Redis } from 'ioredis';

export interface RedisFacts {
  version: string;
  maxmemoryPolicy: string;
  aof: boolean;
  rdbSave: string;
}

/** Reads the facts easel cares about from a Redis server, or throws with the connection error. */
export async function readRedisFacts(url: string, timeoutMs = 2000): Promise<RedisFacts> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const [, policy = 'unknown'] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const [, aof = 'no'] = (await redis.config('GET', 'appendonly')) as string[];
    const [, save = ''] = (await redis.config('GET', 'save')) as string[];
    return { version, maxmemoryPolicy: policy, aof: aof === 'yes', rdbSave: save };
  } finally {
    redis.disconnect();
  }
}

/** The local default that `easel start` may run a private redis-server for. */
export function isLocalDefaultRedis(url: string): boolean {
  try {
    const u = new URL(url);
    return (
      u.protocol === 'redis:' &&
      ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) &&
      (u.port === '' || u.port === '6379') &&
      !u.password
    );
  } catch {
    return false;
  }
}
