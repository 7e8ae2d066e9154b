import { join } from 'node:path';
import type { Config } from '../config/schema.ts';
import type { ProviderName } from './execution-providers.ts';
import type { BuiltinSettings, EngineSettings } from './model-store.ts';

/** The engine's settings from the configuration: one place for the worker and the input screen. */
export function engineSettings(config: Config): EngineSettings {
  return {
    modelsDir: config.MODELS_DIR,
    providers: config.EXECUTION_PROVIDERS as ProviderName[],
    threads: config.ENGINE_THREADS,
    addOnCacheBytes: config.LORA_CACHE_MB * 1024 * 1024,
    builtin: {
      classifier: config.NSFW_CLASSIFIER,
      upscaler: config.UPSCALER,
      cacheDir: join(config.DATA_DIR, 'converted-models'),
    },
  };
}

/** No converted networks: only models from MODELS_DIR (benchmarks and tests of the plain engine). */
export const NO_BUILTINS: BuiltinSettings = { classifier: 'none', upscaler: 'lanczos', cacheDir: '' };
