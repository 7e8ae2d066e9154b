import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createKeyWithCredits, type NewKeyOptions } from '../../src/api/key-admin.ts';
import { ApiKeyStore, type CreatedApiKey } from '../../src/api/key-store.ts';
import { type ApiServerDeps, buildApiServer } from '../../src/api/server.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log/logger.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

/**
 * The REST API as a client sees it: the real Fastify server listening on a loopback port, real
 * admission on the private test Redis (a unique prefix per harness), artifacts in a temporary folder.
 */
export interface ApiHarness {
  url: string;
  config: Config;
  services: Services;
  keys: ApiKeyStore;
  app: FastifyInstance;
  artifactsDir: string;
  prefix: string;
  newKey(options?: Partial<NewKeyOptions>): Promise<CreatedApiKey>;
  post(
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: AnswerBody; headers: Headers }>;
  get(
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: AnswerBody; headers: Headers }>;
  close(): Promise<void>;
}

/** Answers come in many shapes; tests read the fields they assert on. */
// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON answer, asserted on field by field
export type AnswerBody = any;

let keyCounter = 0;

export async function startApiHarness(
  options: {
    env?: Record<string, string>;
    name?: string;
    fetch?: ApiServerDeps['fetch'];
    clock?: () => number;
  } = {},
): Promise<ApiHarness> {
  const artifactsDir = mkdtempSync(join(tmpdir(), 'easel-api-'));
  const prefix = uniquePrefix(options.name ?? 'api');
  const config = parseConfig({
    REDIS_URL: testRedisUrl(),
    LOG_LEVEL: 'silent',
    ARTIFACTS_DIR: artifactsDir,
    API_SYNC_WAIT_MS: '0',
    DEFAULT_COOLDOWN_S: '0',
    DEFAULT_PENDING_CAP: '50',
    ...options.env,
  });
  const logger = createLogger(config.LOG_LEVEL);
  const services = await createServices(config, logger, {
    prefix,
    artifacts: new DiskArtifactStore(artifactsDir),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const keys = new ApiKeyStore(services.redis, prefix);
  const app = await buildApiServer({
    config,
    logger,
    services,
    keys,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });

  const call = async (method: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${url}${path}`, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (an image, or an error page): keep the text
    }
    return { status: response.status, body: parsed as AnswerBody, headers: response.headers };
  };

  return {
    url,
    config,
    services,
    keys,
    app,
    artifactsDir,
    prefix,
    newKey: (o = {}) =>
      createKeyWithCredits(services, keys, { name: `key-${++keyCounter}`, credits: 100, ...o }),
    post: (path, body, headers) => call('POST', path, body, headers),
    get: (path, headers) => call('GET', path, undefined, headers),
    async close() {
      await app.close();
      await services.close();
      rmSync(artifactsDir, { recursive: true, force: true });
    },
  };
}
