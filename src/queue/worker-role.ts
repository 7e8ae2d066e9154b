import { startGenerateWorker } from '../../workers/generate.ts';
import type { RoleContext, RoleStarter, RunningRole } from '../app/role.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { artifactStoreFromConfig } from '../artifacts/artifact-store-from-config.ts';
import { startArtifactSweeper } from '../artifacts/artifact-sweeper.ts';
import type { Config } from '../config/schema.ts';
import { batchKey } from '../engine/batch-key.ts';
import { engineSettings } from '../engine/engine-settings.ts';
import { ModelStore } from '../engine/model-store.ts';
import { createBatchRenderer } from '../engine/render-batch.ts';
import { createRenderer, rendererSettings, screeningProblems } from '../engine/render-job.ts';
import { CodedError } from '../errors/coded-error.ts';
import { loadCatalog } from '../models/model-catalog.ts';
import { isInstalled } from '../models/model-folder.ts';
import { findModel, type Registry } from '../models/registry.ts';
import { defaultModelId } from '../request/default-model.ts';

/**
 * The GPU worker (`easel worker`, or the `worker` role of `easel start`): consumes the `generate`
 * queue through the lifecycle wrapper (credits, cancellation, delivery, retries), renders with the
 * engine, keeps models resident between jobs, and sweeps expired artifacts.
 */
export interface WorkerRoleOptions {
  /** BullMQ prefix; QUEUE_PREFIX by default (tests and `easel imagine` pass their own). */
  prefix?: string;
  artifacts?: ArtifactStore;
  catalog?: Registry;
  /** Load the default model at start, so the first job does not wait and the provider is logged. */
  warmUp?: boolean;
  /** How often the worker looks for cancel markers (250 ms; tests of a short render's cancel look sooner). */
  cancelPollMs?: number;
}

export async function startGenerateRole(
  ctx: RoleContext,
  options: WorkerRoleOptions = {},
): Promise<RunningRole> {
  const { config, logger } = ctx;
  const catalog = options.catalog ?? loadCatalog(config.MODELS_DIR);
  const artifacts = options.artifacts ?? (await artifactStoreFromConfig(config));
  const store = new ModelStore(engineSettings(config), catalog, logger);
  const settings = rendererSettings(config);
  // Convert (or find cached) and load the built-in networks now: a broken package is reported here,
  // and a model that needs the classifier is then refused below rather than rendered unscreened.
  const builtinProblems = await store.prepareBuiltins();
  for (const problem of builtinProblems) logger.error(problem);
  const problems = screeningProblems(store, catalog, settings);
  if (problems.length > 0) {
    throw new CodedError(
      'config-invalid',
      `The worker cannot screen pictures for NSFW content:\n  ${problems.join('\n  ')}`,
    );
  }
  if (config.NSFW_SCREENING === 'off') logger.warn('NSFW_SCREENING=off: rendered pictures are not screened');

  if (options.warmUp !== false) warmUp(config, catalog, store, logger);

  const deps = { store, catalog, artifacts, settings };
  const render = createRenderer(deps);
  const worker = await startGenerateWorker({
    redisUrl: config.REDIS_URL,
    prefix: options.prefix ?? config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    logger,
    render,
    batch: {
      size: config.WORKER_BATCH,
      key: (data) => batchKey(data.request),
      render: createBatchRenderer(deps, logger),
    },
    models: () => catalog.models.filter((m) => isInstalled(m, config.MODELS_DIR)).map((m) => m.id),
    ...(options.cancelPollMs !== undefined ? { cancelPollMs: options.cancelPollMs } : {}),
  });

  const sweeper = startArtifactSweeper({
    artifacts,
    retentionHours: config.IMAGE_RETENTION_HOURS,
    logger,
  });

  return {
    name: 'worker',
    async stop() {
      sweeper.stop();
      await worker.close();
      await store.release();
    },
  };
}

function warmUp(config: Config, catalog: Registry, store: ModelStore, logger: RoleContext['logger']): void {
  const entry = findModel(catalog, defaultModelId(config.DEFAULT_MODEL, catalog, config.MODELS_DIR));
  if (entry === undefined || entry.kind === 'upscaler') return;
  const started = performance.now();
  store
    .diffusionModel(entry, false)
    .then(({ model }) =>
      logger.info(
        { model: entry.id, provider: model.provider, ms: Math.round(performance.now() - started) },
        'default model loaded',
      ),
    )
    .catch((err: unknown) =>
      logger.warn({ model: entry.id, err: (err as Error).message }, 'default model not loaded'),
    );
}

export const startWorkerRole: RoleStarter = (ctx) => startGenerateRole(ctx);
