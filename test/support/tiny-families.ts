import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_BUILTINS } from '../../src/engine/engine-settings.ts';
import type { GenerateOptions } from '../../src/engine/generate-pictures.ts';
import { type EngineSettings, ModelStore } from '../../src/engine/model-store.ts';
import {
  TINY_FAMILIES,
  type TinyFamily,
  type TinyFamilyOptions,
  tinyFamilyEntry,
  writeTinyFamilyModel,
} from '../../src/engine/tiny/tiny-families.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { ModelEntry } from '../../src/models/registry.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { type TinyWorld, tinyEntry } from './tiny-models.ts';

/** A tiny family folder's entry for the tests: `easel models tiny --family`'s, rendered at 64 px. */
export function familyEntry(family: TinyFamily, overrides: Partial<ModelEntry> = {}): ModelEntry {
  const written = tinyFamilyEntry(family);
  return tinyEntry(`tiny-${family}`, {
    kind: written.kind,
    folder: `tiny-${family}`,
    defaults: written.defaults,
    ...(written.family !== undefined ? { family: written.family } : {}),
    ...overrides,
  });
}

/**
 * A models folder with a tiny model of each family (`tiny-sdxl`, `tiny-sd3`, …), plus `tiny-sdxl-refined`:
 * the SDXL base with the tiny refiner as its second stage.
 */
export async function familyWorld(
  options: {
    families?: readonly TinyFamily[];
    folder?: TinyFamilyOptions;
    settings?: Partial<EngineSettings>;
  } = {},
): Promise<TinyWorld> {
  const modelsDir = await mkdtemp(join(tmpdir(), 'easel-families-'));
  const families = options.families ?? TINY_FAMILIES;
  const models: ModelEntry[] = [];
  for (const family of families) {
    await writeTinyFamilyModel(join(modelsDir, `tiny-${family}`), family, options.folder);
    models.push(familyEntry(family));
  }
  if (families.includes('sdxl') && families.includes('sdxl-refiner')) {
    models.push(familyEntry('sdxl', { id: 'tiny-sdxl-refined', refiner: 'tiny-sdxl-refiner' }));
  }
  const catalog = { models };
  const store = new ModelStore(
    { modelsDir, providers: ['cpu'], threads: 1, builtin: NO_BUILTINS, ...options.settings },
    catalog,
    createLogger('silent'),
  );
  return { modelsDir, catalog, store };
}

export function familyRequest(
  family: TinyFamily,
  overrides: Partial<GenerationRequest> = {},
): GenerationRequest {
  const { defaults } = tinyFamilyEntry(family);
  return {
    mode: 'txt2img',
    prompt: 'a red circle on a blue background',
    negativePrompt: 'blurry',
    model: `tiny-${family}`,
    width: 64,
    height: 64,
    steps: defaults.steps,
    guidance: defaults.guidance,
    sampler: defaults.scheduler,
    seed: 42,
    count: 1,
    ...overrides,
  };
}

/** Generate options over a world, with input pictures from a map of artifact id to bytes. */
export function familyOptions(world: TinyWorld, pictures: Record<string, Buffer> = {}): GenerateOptions {
  return {
    store: world.store,
    catalog: world.catalog,
    maxPixels: 4096 * 4096,
    images: {
      load: async (id: string) => {
        const bytes = pictures[id];
        if (bytes === undefined) throw new Error(`no test picture ${id}`);
        return bytes;
      },
    },
  };
}
