import type { Config } from '../config/schema.ts';
import { engineSettings } from '../engine/engine-settings.ts';
import { ModelStore } from '../engine/model-store.ts';
import type { Logger } from '../log/logger.ts';
import { isInstalled } from '../models/model-folder.ts';
import type { Registry } from '../models/registry.ts';
import type { CheckResult } from './checks.ts';

/**
 * Which NSFW screen and which upscaler a worker with this configuration uses, found by loading them
 * as the worker does (the built-in networks are converted, or taken from the cache, and opened).
 */
export async function screenAndUpscalerChecks(
  config: Config,
  catalog: Registry,
  logger: Logger,
): Promise<CheckResult[]> {
  const store = new ModelStore(engineSettings(config), catalog, logger);
  try {
    const failures = await store.prepareBuiltins();
    return [screenCheck(config, store), await upscalerCheck(config, catalog, store, failures)];
  } finally {
    await store.release();
  }
}

function screenCheck(config: Config, store: ModelStore): CheckResult {
  const name = 'nsfw screen';
  if (config.NSFW_SCREENING === 'off') {
    return {
      name,
      status: 'warn',
      detail: 'NSFW_SCREENING=off: neither rendered nor input images are screened',
    };
  }
  const own = "a model's own safety_checker/ screens its pictures";
  if (store.hasNsfwClassifier()) {
    return {
      name,
      status: 'ok',
      detail: `${own}; other models and input images: MODELS_DIR/nsfw-classifier (NSFW_THRESHOLD ${config.NSFW_THRESHOLD})`,
    };
  }
  const problem = store.builtinClassifierProblem();
  if (problem !== undefined) {
    return {
      name,
      status: 'fail',
      detail: `the built-in classifier cannot be used: ${problem}\n  Models without a safety_checker/ are refused until this is fixed (npm ci restores the package).`,
    };
  }
  if (config.NSFW_CLASSIFIER === 'none') {
    return {
      name,
      status: 'warn',
      detail: `${own}; NSFW_CLASSIFIER=none: models without one cannot be rendered, and input images are not screened`,
    };
  }
  return {
    name,
    status: 'ok',
    detail:
      `${own}; other models and input images: nsfwjs 4.3.0 MobileNetV2 (built in, converted to ONNX; flags porn >= ${config.NSFW_PORN_THRESHOLD}, ` +
      `hentai >= ${config.NSFW_HENTAI_THRESHOLD}, sexy >= ${config.NSFW_SEXY_THRESHOLD})`,
  };
}

async function upscalerCheck(
  config: Config,
  catalog: Registry,
  store: ModelStore,
  failures: string[],
): Promise<CheckResult> {
  const name = 'upscaler';
  const installed = catalog.models.find((m) => m.kind === 'upscaler' && isInstalled(m, config.MODELS_DIR));
  if (installed !== undefined) {
    return { name, status: 'ok', detail: `${installed.id} (installed in MODELS_DIR), in overlapping tiles` };
  }
  if (config.UPSCALER === 'lanczos') {
    return { name, status: 'ok', detail: 'UPSCALER=lanczos: Lanczos plus an img2img detail pass' };
  }
  const problem = failures.find((f) => f.includes(config.UPSCALER));
  if (problem !== undefined) {
    return {
      name,
      status: 'fail',
      detail: `${problem}\n  Upscales fail until this is fixed (or set UPSCALER=lanczos).`,
    };
  }
  const x2 = await store.builtinUpscaler(2);
  return {
    name,
    status: 'ok',
    detail: `${config.UPSCALER} 2x and 4x from ${x2?.network.packageName} ${x2?.network.version} (built in, converted to ONNX), in overlapping tiles`,
  };
}
