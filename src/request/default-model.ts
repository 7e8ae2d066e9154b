import type { Registry } from '../models/registry.ts';

/**
 * The model a request that names none gets: DEFAULT_MODEL when set, else the built-in easel-mini
 * (always installed, it ships in the package), else the registry's first entry.
 */
export function defaultModelId(configured: string, registry: Registry): string {
  if (configured) return configured;
  return registry.models.find((m) => m.builtin)?.id ?? registry.models[0]?.id ?? 'easel-mini';
}
