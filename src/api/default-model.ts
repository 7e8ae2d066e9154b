import type { Config } from '../config/schema.ts';
import type { Registry } from '../models/registry.ts';

/**
 * The model a request without `model_id` gets: DEFAULT_MODEL, else the built-in easel-mini (which
 * is always installed), else the registry's first entry.
 */
export function defaultModelId(config: Config, registry: Registry): string {
  if (config.DEFAULT_MODEL) return config.DEFAULT_MODEL;
  return registry.models.find((m) => m.builtin)?.id ?? registry.models[0]?.id ?? 'easel-mini';
}
