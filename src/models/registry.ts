import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodedError } from '../errors/coded-error.ts';
import { SAMPLERS, type SamplerName } from '../request/types.ts';

/** The package's own models folder: holds the registry and the built-in easel-mini model. */
export const PACKAGE_MODELS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../models');

export interface ModelEntry {
  id: string;
  aliases: string[];
  description: string;
  /** txt2img models also do img2img; inpaint models have a 9-channel UNet. */
  kind: 'txt2img' | 'inpaint' | 'upscaler';
  /** Ships inside the package (models/<folder>), whatever MODELS_DIR says. */
  builtin?: boolean;
  hub?: { repo: string; revision: string };
  folder: string;
  /** Display size (square side) the model is meant for; aspect ratios keep this area. */
  nativeResolution: number;
  /** The model renders at display size / renderScale; the output is scaled back up for display. */
  renderScale: number;
  /** Latent sides must be multiples of this (the UNet's total downsampling). */
  latentMultiple: number;
  defaults: { steps: number; guidance: number; scheduler: SamplerName };
  limits: { minSteps: number; maxSteps: number };
  /** `not-needed` only for models that cannot draw people (easel-mini draws shapes). */
  nsfwScreening: 'required' | 'not-needed';
  /** The model family (DESIGN.md, "Model families"): sd1, sd2, sdxl, sd3. Shown by `easel models list`. */
  family?: string;
  /** An SDXL refiner (registry id) run as a second stage on this model's latents, when it is installed. */
  refiner?: string;
  /** The command that installs a model that is neither built in nor on a hub (`easel models tiny`). */
  install?: string;
  /**
   * A model trained on a closed set of words (easel-mini) draws noise for any other prompt; a prompt
   * with none of these words gets a hint naming them.
   */
  vocabulary?: ModelVocabulary;
}

export interface ModelVocabulary {
  shapes: string[];
  colours: string[];
  /** A prompt the model draws well, shown in the hint. */
  example: string;
}

export interface Registry {
  models: ModelEntry[];
}

export function loadRegistry(file = join(PACKAGE_MODELS_DIR, 'registry.json')): Registry {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Registry;
  // A default sampler easel does not have would only fail at render time, for every request.
  for (const m of parsed.models) {
    const scheduler: unknown = m.defaults?.scheduler;
    if (!(SAMPLERS as readonly unknown[]).includes(scheduler)) {
      throw new CodedError(
        'config-invalid',
        `${file}: model "${m.id}" defaults.scheduler ${JSON.stringify(scheduler)} is not one of ${SAMPLERS.join(', ')}`,
      );
    }
  }
  return { models: parsed.models };
}

/** Finds a model by id or alias, case-insensitively. */
export function findModel(registry: Registry, idOrAlias: string): ModelEntry | undefined {
  const wanted = idOrAlias.trim().toLowerCase();
  return registry.models.find((m) => m.id === wanted || m.aliases.some((a) => a.toLowerCase() === wanted));
}
