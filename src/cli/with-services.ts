import { ApiKeyStore } from '../api/key-store.ts';
import { ensureRedis } from '../app/ensure-redis.ts';
import { createServices, type Services } from '../app/services.ts';
import { loadConfig } from '../config/load-config.ts';
import { CodedError } from '../errors/coded-error.ts';
import { isUserError } from '../errors/user-error.ts';
import { createLogger } from '../log/logger.ts';

/**
 * Runs an operator command against the deployment's Redis (keys and credits live there) and closes
 * it after. Like `easel start` and `easel imagine`, it starts the embedded private Redis (its AOF in
 * DATA_DIR/redis) when nothing answers at the local default, so it sees the same keys and credits.
 * Refusals (a name in use, a bad value, an unknown member) come out as messages, no stack.
 */
export async function withServices<T>(
  run: (services: Services, keys: ApiKeyStore) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  const logger = createLogger('error');
  const embedded = await ensureRedis(config, logger);
  const services = await createServices(config, logger);
  if (services.redis.status !== 'ready') {
    await services.close();
    await embedded?.stop();
    throw new CodedError(
      'redis-unavailable',
      `Redis does not answer at ${config.REDIS_URL}; API keys and credits live there.`,
    );
  }
  try {
    return await run(services, new ApiKeyStore(services.redis, config.QUEUE_PREFIX));
  } catch (error) {
    if (isUserError(error) || (error instanceof Error && !(error instanceof CodedError))) {
      throw new CodedError('config-invalid', error.message);
    }
    throw error;
  } finally {
    await services.close();
    await embedded?.stop();
  }
}
