import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodedError } from '../errors/coded-error.ts';
import { isFlowMatchingSampler } from '../request/sampler-names.ts';
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
  /**
   * Where an ONNX export in the diffusers/Optimum layout lives on the hub; `subfolder` when the repo
   * keeps it below its root (repos holding several exports side by side).
   */
  hub?: { repo: string; revision: string; subfolder?: string };
  /**
   * For a model with no usable ONNX export on the hub: the repo to export from and the optimum-cli
   * task (export-command.ts turns these into the command; `easel models download` prints it).
   */
  export?: { model: string; task: string; note?: string };
  folder: string;
  /** Display size (square side) the model is meant for; aspect ratios keep this area. */
  nativeResolution: number;
  /** The model renders at display size / renderScale; the output is scaled back up for display. */
  renderScale: number;
  /** Latent sides must be multiples of this (the UNet's total downsampling). */
  latentMultiple: number;
  defaults: { steps: number; guidance: number; scheduler: SamplerName };
  /**
   * Distilled models that render without classifier-free guidance (the turbo models) never see a
   * negative prompt; a request with one is refused rather than silently ignoring it.
   */
  ignoresNegativePrompt?: boolean;
  limits: { minSteps: number; maxSteps: number };
  /** `not-needed` only for models that cannot draw people (easel-mini draws shapes). */
  nsfwScreening: 'required' | 'not-needed';
  /**
   * The model family (DESIGN.md, "Model families"; model-family.ts): sd1, sd2, sdxl, sdxl-refiner,
   * sd3. Shown by `easel models list`; the request validator matches samplers to it.
   */
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
    // Flow-matching (SD3) and noise-prediction samplers do not mix (see validate-request.ts).
    if (m.family !== undefined && (m.family === 'sd3') !== isFlowMatchingSampler(m.defaults.scheduler)) {
      throw new CodedError(
        'config-invalid',
        `${file}: model "${m.id}" (family ${m.family}) defaults.scheduler "${m.defaults.scheduler}": ` +
          (m.family === 'sd3' ? 'SD3 models sample with flow_euler' : 'flow_euler samples only SD3 models'),
      );
    }
  }
  for (const m of parsed.models) {
    // An entry must say how to get it, or `easel models download` could only fail.
    if (m.builtin !== true && m.hub === undefined && m.export === undefined && m.install === undefined) {
      throw new CodedError(
        'config-invalid',
        `${file}: model "${m.id}" has none of builtin, hub, export or install: say how to get it`,
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
