import { Redis, type RedisOptions } from 'ioredis';
import { parseClusterUrl } from '../redis/cluster-url.ts';

export interface RedisFacts {
  version: string;
  maxmemoryPolicy: string;
  aof: boolean;
  rdbSave: string;
}

/** Reads the facts easel cares about from a Redis server, or throws with the connection error. */
export async function readRedisFacts(url: string, timeoutMs = 2000): Promise<RedisFacts> {
  // Of a cluster, the first node named: its settings stand for the others' (they are set alike).
  const cluster = parseClusterUrl(url);
  const first = cluster?.nodes[0];
  const target: RedisOptions =
    cluster === undefined || first === undefined
      ? {}
      : {
          host: first.host,
          port: first.port,
          ...(cluster.username === undefined ? {} : { username: cluster.username }),
          ...(cluster.password === undefined ? {} : { password: cluster.password }),
          ...(cluster.tls ? { tls: {} } : {}),
        };
  const options: RedisOptions = {
    ...target,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  };
  const redis = cluster === undefined ? new Redis(url, options) : new Redis(options);
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
