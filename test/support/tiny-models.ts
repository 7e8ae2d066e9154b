import { cpSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_BUILTINS } from '../../src/engine/engine-settings.ts';
import { type BuiltinSettings, ModelStore } from '../../src/engine/model-store.ts';
import { type TinyFamily, writeTinyFamilyModel } from '../../src/engine/tiny/tiny-families.ts';
import {
  type TinyModelOptions,
  writeTinyClassifier,
  writeTinyModel,
  writeTinyUpscaler,
} from '../../src/engine/tiny/tiny-model-folder.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { ModelEntry, Registry } from '../../src/models/registry.ts';
import type { GenerationRequest } from '../../src/request/types.ts';

/** The tiny models the engine tests render with, by registry id. */
export const TINY_VARIANTS: Record<string, TinyModelOptions> = {
  tiny: {},
  'tiny-inpaint': { unetChannels: 9 },
  'tiny-fp16': { dtype: 'float16', timestep: 'float16' },
  'tiny-float-timestep': { timestep: 'float32', idsType: 'int64' },
  'tiny-scalar-timestep': { timestep: 'float32-scalar' },
  'tiny-pixel': { layout: 'pixel-shuffle', timestep: 'float32', safetyChecker: false },
  'tiny-fixed': { fixedLatentSize: 8 },
  'tiny-hidden-states': { hiddenStates: true },
};

export function tinyEntry(id: string, overrides: Partial<ModelEntry> = {}): ModelEntry {
  return {
    id,
    aliases: [],
    description: `tiny test model ${id}`,
    kind: id === 'tiny-inpaint' ? 'inpaint' : 'txt2img',
    folder: id,
    nativeResolution: 64,
    renderScale: 1,
    // The tiny UNet halves once, so latent sides must be even.
    latentMultiple: 2,
    defaults: { steps: 4, guidance: 5, scheduler: 'euler' },
    limits: { minSteps: 1, maxSteps: 50 },
    nsfwScreening: id === 'tiny-pixel' ? 'not-needed' : 'required',
    ...overrides,
  };
}

export interface TinyWorld {
  modelsDir: string;
  catalog: Registry;
  store: ModelStore;
}

/** Configuration that points a deployment at a tiny world's `tiny` model, rendering on one CPU thread. */
export function tinyModelEnv(world: TinyWorld): Record<string, string> {
  return {
    MODELS_DIR: world.modelsDir,
    DEFAULT_MODEL: 'tiny',
    EXECUTION_PROVIDERS: 'cpu',
    ENGINE_THREADS: '1',
  };
}

/**
 * A models folder holding every tiny variant (and, on request, an upscaler and an NSFW classifier),
 * a catalog listing them, and a model store over it. The store uses no converted npm networks unless
 * `builtin` says which (see test/support/converted-cache.ts for a shared cache folder).
 */
export async function tinyWorld(
  options: {
    upscaler?: boolean;
    classifier?: boolean;
    variants?: string[];
    builtin?: BuiltinSettings;
    /** Writes the `tiny` model as this family's tiny folder (with a safety checker), for the faces' family tests. */
    family?: TinyFamily;
  } = {},
): Promise<TinyWorld> {
  const modelsDir = await mkdtemp(join(tmpdir(), 'easel-tiny-'));
  const ids = options.variants ?? Object.keys(TINY_VARIANTS);
  const models: ModelEntry[] = [];
  for (const id of ids) {
    if (id === 'tiny' && options.family !== undefined)
      await writeTinyFamilyModel(join(modelsDir, id), options.family, { safetyChecker: true });
    else await writeTinyModel(join(modelsDir, id), TINY_VARIANTS[id]);
    models.push(tinyEntry(id));
  }
  if (options.upscaler === true) {
    await writeTinyUpscaler(join(modelsDir, 'tiny-upscaler'));
    models.push(tinyEntry('tiny-upscaler', { kind: 'upscaler', folder: 'tiny-upscaler' }));
  }
  if (options.classifier === true) await writeTinyClassifier(join(modelsDir, 'nsfw-classifier'));
  const catalog = { models };
  const store = new ModelStore(
    { modelsDir, providers: ['cpu'], threads: 1, builtin: options.builtin ?? NO_BUILTINS },
    catalog,
    createLogger('silent'),
  );
  return { modelsDir, catalog, store };
}

export function tinyRequest(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    mode: 'txt2img',
    prompt: 'a red circle on a blue background',
    negativePrompt: 'blurry',
    model: 'tiny',
    width: 64,
    height: 64,
    steps: 4,
    guidance: 5,
    sampler: 'euler',
    seed: 42,
    count: 1,
    ...overrides,
  };
}

/**
 * A copy of the world's `tiny` model whose UNet is not an ONNX file: installed (every file is
 * there, so workers announce it and admission admits its jobs), but it fails in the worker.
 */
export function writeDamagedCopy(world: TinyWorld, id: string): void {
  cpSync(join(world.modelsDir, 'tiny'), join(world.modelsDir, id), { recursive: true });
  writeFileSync(join(world.modelsDir, id, 'unet', 'model.onnx'), 'not an onnx model');
}
