import type { RoleStarter } from '../app/role.ts';
import { createServices } from '../app/services.ts';
import { loadCatalog } from '../models/model-catalog.ts';
import { ApiKeyStore } from './key-store.ts';
import { needsPublicUrl, publicBaseUrl } from './public-base-url.ts';
import { buildApiServer } from './server.ts';

/**
 * The `api` role of `easel start`: the REST API on API_HOST:API_PORT. Expired images are swept by
 * the worker role, which writes them (src/artifacts/artifact-sweeper.ts), not here.
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
  return {
    name: 'api',
    async stop() {
      // Stops accepting, answers 503 to new requests, and lets requests in flight finish.
      await app.close();
      await services.close();
    },
  };
};
