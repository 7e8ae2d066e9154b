import { isInstalled } from '../models/model-folder.ts';
import type { Registry } from '../models/registry.ts';

/**
 * The model a request that names none gets:
 * 1. DEFAULT_MODEL when set;
 * 2. else, when `modelsDir` is given, the first text-to-image model of the registry installed there
 *    that was downloaded from a hub (an operator who installed Stable Diffusion wants it used; the
 *    noise-drawing smoke-test model `easel models tiny` writes has no hub and is never picked);
 * 3. else the built-in easel-mini (always installed, it ships in the package), else the first entry.
 */
export function defaultModelId(configured: string, registry: Registry, modelsDir?: string): string {
  if (configured) return configured;
  if (modelsDir !== undefined) {
    const installed = registry.models.find(
      (m) => m.kind === 'txt2img' && m.builtin !== true && m.hub !== undefined && isInstalled(m, modelsDir),
    );
    if (installed !== undefined) return installed.id;
  }
  return registry.models.find((m) => m.builtin)?.id ?? registry.models[0]?.id ?? 'easel-mini';
}
