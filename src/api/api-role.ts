import type { RoleStarter } from '../app/role.ts';
import { rolesToRun } from '../app/role-starters.ts';
import { createServices } from '../app/services.ts';
import { loadCatalog } from '../models/model-catalog.ts';
import { startImageSweeper } from './image-sweeper.ts';
import { ApiKeyStore } from './key-store.ts';
import { needsPublicUrl, publicBaseUrl } from './public-base-url.ts';
import { buildApiServer } from './server.ts';

/**
 * The `api` role of `easel start`: the REST API on API_HOST:API_PORT. Expired images are swept here
 * unless this process also runs the worker role, which sweeps the same store.
 */
export const startApiRole: RoleStarter = async ({ config, logger }) => {
  const services = await createServices(config, logger, { registry: loadCatalog(config.MODELS_DIR) });
  const keys = new ApiKeyStore(services.redis, config.QUEUE_PREFIX);
  const app = await buildApiServer({ config, logger, services, keys });
  try {
    await app.listen({ host: config.API_HOST, port: config.API_PORT });
  } catch (error) {
    await services.close();
    throw error;
  }
  logger.info(
    { url: publicBaseUrl(config, app.server.address()), docs: '/v1/openapi.json' },
    'REST API listening',
  );
  if (needsPublicUrl(config)) {
    logger.warn(
      { API_HOST: config.API_HOST },
      'API_PUBLIC_URL is empty, so image and fetch links point at this machine only; set it to the address clients use',
    );
  }
  const sweeper = rolesToRun(config).includes('worker')
    ? undefined
    : startImageSweeper({
        artifacts: services.artifacts,
        retentionHours: config.IMAGE_RETENTION_HOURS,
        logger,
      });

  return {
    name: 'api',
    async stop() {
      sweeper?.stop();
      // Stops accepting, answers 503 to new requests, and lets requests in flight finish.
      await app.close();
      await services.close();
    },
  };
};
