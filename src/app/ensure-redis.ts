import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { isLocalDefaultRedis } from '../doctor/redis-checks.ts';
import { CodedError } from '../errors/coded-error.ts';
import type { Logger } from '../log/logger.ts';
import { parseClusterUrl } from '../redis/cluster-url.ts';
import {
  type PrivateRedis,
  redisServerOnPath,
  startPrivateRedis,
  tcpAnswers,
} from '../redis/private-redis-server.ts';

/**
 * The embedded single-machine default: when nothing answers at REDIS_URL and it is the local
 * default, run a private redis-server with AOF under DATA_DIR/redis. Any other URL must already
 * answer, so a production deployment never silently gets a throwaway Redis.
 */
export async function ensureRedis(config: Config, logger: Logger): Promise<PrivateRedis | undefined> {
  // A cluster is never the embedded default; its client finds the nodes that answer.
  if (parseClusterUrl(config.REDIS_URL) !== undefined) return undefined;
  const url = new URL(config.REDIS_URL);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 6379);
  if (await tcpAnswers(host, port, 1000)) return undefined;
  if (!isLocalDefaultRedis(config.REDIS_URL)) {
    throw new CodedError(
      'redis-unavailable',
      `Nothing answers at REDIS_URL (${host}:${port}). Start that Redis, or unset REDIS_URL to let easel run its own.`,
    );
  }
  if (!redisServerOnPath()) {
    throw new CodedError(
      'redis-unavailable',
      'No Redis answers at 127.0.0.1:6379 and redis-server is not installed.\n' +
        'Install it (Debian/Ubuntu: apt-get install redis-server, with sudo when not root) or set REDIS_URL to a running Redis.',
    );
  }
  const dir = resolve(join(config.DATA_DIR, 'redis'));
  logger.info({ dir, port }, 'starting a private redis-server (AOF on) for the embedded set-up');
  return startPrivateRedis({ port, persistDir: dir });
}
