import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { parseClusterUrl } from './cluster-url.ts';

/**
 * The one place Redis connections are made. BullMQ workers (and QueueEvents) block and must never
 * give up on a command (`maxRetriesPerRequest: null`); producers on a request path fail fast
 * instead of queueing commands while Redis is down, so a member gets a clear error at once.
 *
 * REDIS_URL names one server (`redis://`, `rediss://`) or a Redis Cluster
 * (`redis+cluster://host:port,host:port`, see cluster-url.ts). Every key easel and BullMQ write
 * carries the prefix's hash tag (`{easel}`), so a cluster keeps them all in one slot, and the Lua
 * scripts, which touch several at once, run there unchanged.
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
  const cluster = parseClusterUrl(url);
  const redis =
    cluster === undefined
      ? new Redis(url, { ...redisOptions(role), connectionName: name, lazyConnect: role === 'producer' })
      : clusterConnection(cluster, role, name);
  // An unhandled 'error' event would crash the process; connection trouble is reported by callers.
  redis.on('error', () => {});
  return redis;
}

function clusterConnection(
  cluster: NonNullable<ReturnType<typeof parseClusterUrl>>,
  role: ConnectionRole,
  name: string,
): Redis {
  const { enableOfflineQueue, retryStrategy, ...perNode } = redisOptions(role);
  const options: ClusterOptions = {
    redisOptions: {
      ...perNode,
      connectionName: name,
      ...(cluster.username === undefined ? {} : { username: cluster.username }),
      ...(cluster.password === undefined ? {} : { password: cluster.password }),
      ...(cluster.tls ? { tls: {} } : {}),
    },
    lazyConnect: role === 'producer',
    enableOfflineQueue: enableOfflineQueue ?? true,
    // A failover moves the slot to the promoted replica: follow MOVED at once, retry a TRYAGAIN or
    // CLUSTERDOWN for as long as a promotion takes (a few seconds past cluster-node-timeout).
    retryDelayOnMoved: 0,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    ...(retryStrategy === undefined ? {} : { clusterRetryStrategy: retryStrategy }),
  };
  // ioredis's Cluster offers every command, defineCommand (the Lua scripts), duplicate, status,
  // connect, quit and the events easel uses on a Redis, and BullMQ takes either; typing the
  // connection as one Redis keeps every module unaware of which it was given. The cluster tests
  // (test/scale/redis-cluster.test.ts, EASEL_TEST_REDIS_CLUSTER=1) run the modules against it.
  return new Cluster(cluster.nodes, options) as unknown as Redis;
}

/** Connects a lazily-connecting producer, failing with a clear message when Redis is down. */
export async function connectProducer(redis: Redis): Promise<Redis> {
  if (redis.status === 'ready') return redis;
  if (redis.status === 'wait') await redis.connect();
  return redis;
}
