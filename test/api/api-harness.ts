import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { WebhookDelivery } from '../../src/api/deliver-webhook.ts';
import { createKeyWithCredits, type NewKeyOptions } from '../../src/api/key-admin.ts';
import { ApiKeyStore, type CreatedApiKey } from '../../src/api/key-store.ts';
import { type ApiServerDeps, buildApiServer } from '../../src/api/server.ts';
import type { RunningRole } from '../../src/app/role.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { Config } from '../../src/config/schema.ts';
import { createOnce } from '../../src/delivery/once.ts';
import type { TinyFamily } from '../../src/engine/tiny/tiny-families.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startGenerateRole } from '../../src/queue/worker-role.ts';
import { type DeliverWorker, startDeliverWorker } from '../../workers/deliver.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { tinyEntry, tinyModelEnv, tinyWorld, writeDamagedCopy } from '../support/tiny-models.ts';

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

export interface HarnessOptions {
  env?: Record<string, string>;
  /** Render with this family's tiny model as `tiny` (the faces' family tests). */
  family?: TinyFamily;
  name?: string;
  fetch?: ApiServerDeps['fetch'];
  /** The API server's clock only (image retention); admission and workers keep real time. */
  clock?: () => number;
  /**
   * Run the real generate worker on the tiny model (shown at 512, rendered at 64, like easel-mini)
   * and the deliver worker with the webhook deliverer.
   */
  workers?: boolean;
  /** Aliases of the tiny model (the hosted APIs' model ids: sd3-large, sdxl, ...). */
  tinyAliases?: string[];
}

export async function startApiHarness(options: HarnessOptions = {}): Promise<ApiHarness> {
  const artifactsDir = mkdtempSync(join(tmpdir(), 'easel-api-'));
  const prefix = uniquePrefix(options.name ?? 'api');
  const tiny = options.workers
    ? await tinyWorld({
        variants: ['tiny'],
        ...(options.family !== undefined ? { family: options.family } : {}),
      })
    : undefined;
  if (tiny) {
    // Installed, but its UNet is damaged: its jobs are admitted and fail in the worker, which
    // must refund them.
    writeDamagedCopy(tiny, 'tiny-broken');
    tiny.catalog.models = [
      tinyEntry('tiny', { nativeResolution: 512, renderScale: 8, aliases: options.tinyAliases ?? [] }),
      tinyEntry('tiny-broken', { nativeResolution: 512, renderScale: 8 }),
      // Listed but installed on no worker: admission refuses it.
      tinyEntry('tiny-missing', { nativeResolution: 512, renderScale: 8 }),
    ];
  }
  const config = parseConfig({
    REDIS_URL: testRedisUrl(),
    LOG_LEVEL: 'silent',
    ARTIFACTS_DIR: artifactsDir,
    API_SYNC_WAIT_MS: '0',
    DEFAULT_COOLDOWN_S: '0',
    DEFAULT_PENDING_CAP: '50',
    ...(tiny ? tinyModelEnv(tiny) : {}),
    ...options.env,
  });
  const logger = createLogger(config.LOG_LEVEL);
  const artifacts = new DiskArtifactStore(artifactsDir);
  const services = await createServices(config, logger, {
    prefix,
    artifacts,
    ...(tiny ? { registry: tiny.catalog } : {}),
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

  let generate: RunningRole | undefined;
  let deliver: DeliverWorker | undefined;
  if (tiny) {
    generate = await startGenerateRole(
      { config, logger },
      { prefix, artifacts, catalog: tiny.catalog, warmUp: false },
    );
    const webhooks = new WebhookDelivery({
      config: { ...config, API_PUBLIC_URL: url },
      artifacts,
      keys,
      once: createOnce(services.redis, prefix),
      logger,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    deliver = await startDeliverWorker({
      redisUrl: config.REDIS_URL,
      prefix,
      deliverers: { api: webhooks },
      logger,
    });
  }

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
      await deliver?.close();
      await generate?.stop();
      await services.close();
      rmSync(artifactsDir, { recursive: true, force: true });
      if (tiny) rmSync(tiny.modelsDir, { recursive: true, force: true });
    },
  };
}
