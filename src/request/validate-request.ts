import { CodedError } from '../errors/coded-error.ts';
import { type FieldError, UserError } from '../errors/user-error.ts';
import { findModel, type ModelEntry, type Registry } from '../models/registry.ts';
import { parseAspectRatio, sizeForAspect } from './aspect-ratio.ts';
import { readHires } from './hires-options.ts';
import {
  ASPECT_RATIOS,
  CLIP_SKIP_MAX,
  CLIP_SKIP_MIN,
  COUNT_MAX,
  COUNT_MIN,
  GUIDANCE_MAX,
  GUIDANCE_MIN,
  PROMPT_MAX_CHARS,
  SEED_MAX,
  SIDE_MAX,
  SIDE_MIN,
  SIDE_STEP,
  STRENGTH_MAX,
  STRENGTH_MIN,
  UPSCALE_FACTORS,
  UPSCALE_INPUT_MAX,
  UPSCALE_INPUT_MIN,
  ZOOM_OUT_FACTORS,
} from './limits.ts';
import {
  type AddOnField,
  checkLoras,
  extractLoraTags,
  type LoraText,
  readEmbeddingNames,
  readLoraList,
} from './lora-set.ts';
import { clipText, describeValue, readNumber, readWholeNumber } from './number-values.ts';
import { upscaleOutputProblem } from './output-size.ts';
import { randomSeed } from './random-seed.ts';
import { CANONICAL_LABELS, isAbsent, type RawField, type RawRequest } from './raw-request.ts';
import { checkRegion, parseRegion } from './region.ts';
import { isFlowMatchingSampler, resolveSampler, SAMPLER_HELP } from './sampler-names.ts';
import type { GenerationMode, GenerationRequest, LoraChoice, RegionPercent, SamplerChoice } from './types.ts';
import { resolveVideo } from './video-options.ts';
import { codePointCount, hasVisibleCharacter } from './visible-text.ts';

/** Per-member ceilings from quota tiers (and the deployment's MAX_PIXELS); tighter than the general rules. */
export interface MemberLimits {
  maxPixels?: number;
  maxSteps?: number;
}

export interface ValidationContext {
  registry: Registry;
  /** Registry id or alias used when the request names no model. */
  defaultModel: string;
  /** What the frontend was asked for. `txt2img` (the default) becomes `img2img` when an image is attached. */
  mode?: GenerationMode;
  limits?: MemberLimits;
  /** Where seeds for requests without one come from; tests pass a fixed one. */
  randomSeed?: () => number;
  /** The most images one request may ask for (COUNT_MAX; the API faces allow more). */
  maxCount?: number;
}

export type ValidationResult = { ok: true; request: GenerationRequest } | { ok: false; errors: FieldError[] };

/** Modes that start from an image and so take a denoising strength; the default when none is given. */
const DEFAULT_STRENGTH: Partial<Record<GenerationMode, number>> = {
  img2img: 0.75,
  variation: 0.65,
  inpaint: 1,
  outpaint: 1,
};

/**
 * The one validator behind every frontend: turns a raw request into a `GenerationRequest`, or lists
 * every bad field at once (with the parse errors the frontend found), each message naming the field
 * as the member wrote it and the allowed range. Pure apart from drawing a random seed.
 */
export function validateRequest(raw: RawRequest, ctx: ValidationContext): ValidationResult {
  const errors: FieldError[] = [...raw.errors];
  const label = (field: RawField) => raw.labels[field] ?? CANONICAL_LABELS[field];
  const bad = (field: RawField, message: string) => {
    errors.push({ field: label(field), message: `${label(field)}: ${message}` });
  };
  const given = (field: Exclude<RawField, 'initImage' | 'maskImage'>) => !isAbsent(raw[field]);

  let mode: GenerationMode = raw.mode ?? ctx.mode ?? 'txt2img';
  if (mode === 'txt2img' && raw.initImage) mode = 'img2img';

  const text = (field: 'prompt' | 'negativePrompt', required: boolean): string => {
    const value = raw[field];
    if (isAbsent(value)) {
      if (required) {
        bad(field, `required; describe the image in 1 to ${PROMPT_MAX_CHARS} characters`);
      }
      return '';
    }
    if (typeof value !== 'string') {
      bad(field, `must be text of at most ${PROMPT_MAX_CHARS} characters (got ${describeValue(value)})`);
      return '';
    }
    const trimmed = value.trim();
    const length = codePointCount(trimmed);
    if (length > PROMPT_MAX_CHARS) {
      bad(field, `must be at most ${PROMPT_MAX_CHARS} characters (got ${length})`);
    } else if (required && !hasVisibleCharacter(trimmed)) {
      // Zero-width and other invisible characters draw nothing a member meant: refuse before charging.
      bad(field, `has no visible characters; describe the image in 1 to ${PROMPT_MAX_CHARS} characters`);
    }
    return trimmed;
  };
  // A variation redraws its image, so a prompt only steers it (OpenAI's variations send none).
  const written = text('prompt', mode !== 'upscale' && mode !== 'variation');
  const addOns = readAddOns(raw, written, label, bad);
  const prompt = addOns.prompt;
  const negativePrompt = text('negativePrompt', false);

  const model = resolveModel(raw, ctx, mode, bad);
  // Sizes of a request whose model is unknown are still checked, against the common 512.
  const native = model?.nativeResolution ?? 512;

  const size = resolveSize(raw, mode, native, label, bad);
  const maxPixels = ctx.limits?.maxPixels;
  if (size && maxPixels !== undefined && size.width * size.height > maxPixels) {
    const side = Math.floor(Math.sqrt(maxPixels) / SIDE_STEP) * SIDE_STEP;
    bad(
      given('aspect') ? 'aspect' : 'width',
      `${size.width}x${size.height} is ${size.width * size.height} pixels, over your limit of ${maxPixels} pixels (${side}x${side} fits)`,
    );
  }

  let seed = 0;
  if (given('seed')) {
    const n = readWholeNumber(raw.seed);
    if (n === undefined || n < 0 || n > SEED_MAX) {
      bad(
        'seed',
        `must be a whole number from 0 to ${SEED_MAX}; 0 or none picks one at random (got ${describeValue(raw.seed)})`,
      );
    } else {
      seed = n;
    }
  }
  if (seed === 0) seed = (ctx.randomSeed ?? randomSeed)();

  const count = wholeInRange(raw.count, COUNT_MIN, ctx.maxCount ?? COUNT_MAX, 1, (m) => bad('count', m));
  const video = resolveVideo(raw, mode, count, label, bad);

  const guidance = given('guidance')
    ? numberInRange(raw.guidance, GUIDANCE_MIN, GUIDANCE_MAX, (m) => bad('guidance', m))
    : (model?.defaults.guidance ?? 0);

  let steps = 0;
  if (model) {
    const memberMax = ctx.limits?.maxSteps;
    const max = memberMax === undefined ? model.limits.maxSteps : Math.min(model.limits.maxSteps, memberMax);
    const why =
      max < model.limits.maxSteps
        ? `(your limit; ${model.id} allows up to ${model.limits.maxSteps})`
        : `for ${model.id}`;
    if (given('steps')) {
      const n = readWholeNumber(raw.steps);
      if (n === undefined || n < model.limits.minSteps || n > max) {
        bad(
          'steps',
          `must be a whole number from ${model.limits.minSteps} to ${max} ${why} (got ${describeValue(raw.steps)})`,
        );
      } else {
        steps = n;
      }
    } else {
      steps = Math.min(model.defaults.steps, max);
    }
  } else if (given('steps') && (readWholeNumber(raw.steps) ?? 0) < 1) {
    bad('steps', `must be a whole number of at least 1 (got ${describeValue(raw.steps)})`);
  }

  let sampler: SamplerChoice = model?.defaults.scheduler ?? 'euler';
  if (given('sampler')) {
    const resolved = typeof raw.sampler === 'string' ? resolveSampler(raw.sampler) : undefined;
    if (resolved) sampler = resolved;
    else bad('sampler', `must be ${SAMPLER_HELP} (got ${describeValue(raw.sampler)})`);
    if (resolved && model) {
      const problem = samplerMismatch(resolved, model);
      if (problem !== undefined) bad('sampler', problem);
    }
  }

  // Seed 002's hosted API refuses these outright ("does not work with sd3-large-turbo"); ignoring
  // the text silently would charge for an image that does not do what was asked.
  if (model?.ignoresNegativePrompt === true && negativePrompt !== '') {
    bad(
      'negativePrompt',
      `negative prompts do not work with ${model.id}: it renders without classifier-free guidance, so the negative prompt would be ignored; leave it out`,
    );
  }
  if (model?.family === 'sdxl-refiner' && mode === 'txt2img') {
    bad(
      'model',
      `${model.id} refines an existing image: attach one (img2img), or render with sdxl first and refine that`,
    );
  }

  let strength = DEFAULT_STRENGTH[mode];
  if (given('strength')) {
    if (strength === undefined) {
      bad(
        'strength',
        `only applies when you start from an image (img2img, variation, inpaint); attach an image or leave it out`,
      );
    } else {
      strength = numberInRange(raw.strength, STRENGTH_MIN, STRENGTH_MAX, (m) => bad('strength', m));
    }
  }

  if (mode !== 'txt2img' && !raw.initImage) bad('initImage', `required for ${mode}: attach an image`);

  let region: RegionPercent | undefined;
  if (given('region') && mode !== 'inpaint') {
    bad('region', 'only applies to inpaint; leave it out');
  } else if (given('region')) {
    const read =
      typeof raw.region === 'string'
        ? parseRegion(raw.region)
        : typeof raw.region === 'object' && raw.region !== null && !Array.isArray(raw.region)
          ? checkRegion(raw.region as RegionPercent)
          : parseRegion(describeValue(raw.region));
    if (read.ok) region = read.region;
    else bad('region', read.message);
  }
  if (mode === 'inpaint' && !raw.maskImage && !given('region')) {
    bad('maskImage', `required for inpaint: a mask image or a region to repaint`);
  }

  let upscale: 2 | 4 | undefined;
  if (mode === 'upscale') {
    const n = given('upscale') ? readNumber(raw.upscale) : 2;
    if (n === 2 || n === 4) upscale = n;
    else bad('upscale', `must be ${UPSCALE_FACTORS.join(' or ')} (got ${describeValue(raw.upscale)})`);
  }
  let zoomOut: 1.5 | 2 | undefined;
  if (mode === 'outpaint') {
    const n = given('zoomOut') ? readNumber(raw.zoomOut) : 2;
    if (n === 1.5 || n === 2) zoomOut = n;
    else bad('zoomOut', `must be ${ZOOM_OUT_FACTORS.join(' or ')} (got ${describeValue(raw.zoomOut)})`);
  }

  // An upscale's output is the input times the factor: known now, so refused before queueing.
  if (upscale !== undefined && size && maxPixels !== undefined) {
    const tooLarge = upscaleOutputProblem(size, upscale, maxPixels);
    if (tooLarge !== undefined) bad('upscale', tooLarge);
  }

  // An upscale renders nothing from text: LoRAs and clip skip would be paid for and do nothing.
  if (mode === 'upscale' && addOns.loras.length > 0) bad('loras', 'an upscale uses no LoRAs; leave them out');
  if (mode === 'upscale' && addOns.clipSkip !== undefined)
    bad('clipSkip', 'an upscale reads no prompt; leave it out');
  if (
    addOns.clipSkip !== undefined &&
    model?.family !== undefined &&
    !['sd1', 'sd2'].includes(model.family)
  ) {
    bad(
      'clipSkip',
      `applies to Stable Diffusion 1.x and 2.x models; ${model.id} is ${model.family}, which reads its own layer`,
    );
  }

  const hires = readHires(
    raw,
    {
      mode,
      ...(size ? { size } : {}),
      ...(model ? { model } : {}),
      ...(maxPixels !== undefined ? { maxPixels } : {}),
    },
    bad,
  );

  if (errors.length > 0 || !model || !size) return { ok: false, errors };
  const request: GenerationRequest = {
    mode,
    prompt,
    negativePrompt,
    model: model.id,
    width: size.width,
    height: size.height,
    steps,
    guidance,
    sampler,
    seed,
    count,
  };
  if (strength !== undefined) request.strength = strength;
  if (raw.initImage) request.initImage = raw.initImage;
  if (raw.maskImage) request.maskImage = raw.maskImage;
  if (region) request.region = region;
  if (upscale) request.upscale = upscale;
  if (zoomOut) request.zoomOut = zoomOut;
  if (video) request.video = video;
  if (addOns.loras.length > 0) request.loras = addOns.loras;
  if (addOns.embeddings.length > 0) request.embeddings = addOns.embeddings;
  if (addOns.clipSkip !== undefined && addOns.clipSkip > 1) request.clipSkip = addOns.clipSkip;
  if (hires) request.hires = { ...hires, steps: hires.steps === 0 ? steps : hires.steps };
  return { ok: true, request };
}

/**
 * LoRAs (the prompt's `<lora:…>` tags, which leave the prompt, and the `loras` field), embeddings
 * named explicitly, and clip skip. Whether the files are installed and fit the model is checked at
 * admission (add-on-check.ts), which can read MODELS_DIR; this stays pure.
 */
function readAddOns(
  raw: RawRequest,
  written: string,
  label: (field: RawField) => string,
  bad: (field: RawField, message: string) => void,
): { prompt: string; loras: LoraChoice[]; embeddings: string[]; clipSkip?: number } {
  const { prompt, tags } = extractLoraTags(written);
  const named: { text: LoraText; field: AddOnField }[] = tags.map((text) => ({ text, field: 'prompt' }));
  if (!isAbsent(raw.loras)) {
    const strengths = isAbsent(raw.loraStrength) ? undefined : raw.loraStrength;
    const list = readLoraList(raw.loras, strengths);
    for (const problem of list.problems) bad(problem.field, problem.message);
    named.push(...list.loras.map((text) => ({ text, field: 'loras' as const })));
  } else if (!isAbsent(raw.loraStrength)) {
    bad('loraStrength', `needs LoRAs to apply to (${label('loras')})`);
  }
  const checked = checkLoras(named);
  for (const problem of checked.problems) bad(problem.field, problem.message);
  let embeddings: string[] = [];
  if (!isAbsent(raw.embeddings)) {
    const read = readEmbeddingNames(raw.embeddings);
    for (const problem of read.problems) bad('embeddings', problem);
    embeddings = read.names;
  }
  const out: { prompt: string; loras: LoraChoice[]; embeddings: string[]; clipSkip?: number } = {
    prompt,
    loras: checked.loras,
    embeddings,
  };
  if (!isAbsent(raw.clipSkip)) {
    const n = readWholeNumber(raw.clipSkip);
    if (n === undefined || n < CLIP_SKIP_MIN || n > CLIP_SKIP_MAX) {
      bad(
        'clipSkip',
        `must be a whole number from ${CLIP_SKIP_MIN} (the last layer) to ${CLIP_SKIP_MAX} (got ${describeValue(raw.clipSkip)})`,
      );
    } else out.clipSkip = n;
  }
  return out;
}

/**
 * A sampler of the other kind than the model: SD3 models are flow-matching (flow_euler), every
 * other family predicts noise or v and takes the other samplers.
 */
function samplerMismatch(sampler: SamplerChoice, model: ModelEntry): string | undefined {
  const flowModel = model.family === 'sd3';
  if (flowModel === isFlowMatchingSampler(sampler)) return undefined;
  return flowModel
    ? `${model.id} is a flow-matching model (Stable Diffusion 3) and samples only with flow_euler (got ${sampler})`
    : `${sampler} samples only flow-matching models (Stable Diffusion 3); ${model.id} takes any other sampler (its default is ${model.defaults.scheduler})`;
}

function resolveModel(
  raw: RawRequest,
  ctx: ValidationContext,
  mode: GenerationMode,
  bad: (field: RawField, message: string) => void,
): ModelEntry | undefined {
  const available = ctx.registry.models
    .filter((m) => m.kind !== 'upscaler')
    .map((m) => m.id)
    .join(', ');
  if (isAbsent(raw.model)) {
    const fallback = findModel(ctx.registry, ctx.defaultModel);
    // A default that is not in the registry is the operator's mistake, not the member's.
    if (!fallback) {
      throw new CodedError(
        'model-missing',
        `Default model "${ctx.defaultModel}" is not in the registry (${available})`,
      );
    }
    return fallback;
  }
  const wanted = typeof raw.model === 'string' ? clipText(raw.model.trim(), 80) : describeValue(raw.model);
  const model = typeof raw.model === 'string' ? findModel(ctx.registry, raw.model) : undefined;
  if (!model) {
    bad('model', `Model id not found: ${wanted}. Available: ${available}`);
    return undefined;
  }
  if (model.kind === 'upscaler' && mode !== 'upscale') {
    bad('model', `${model.id} only upscales images; pick one of ${available}`);
    return undefined;
  }
  return model;
}

function resolveSize(
  raw: RawRequest,
  mode: GenerationMode,
  native: number,
  label: (field: RawField) => string,
  bad: (field: RawField, message: string) => void,
): { width: number; height: number } | undefined {
  const hasAspect = !isAbsent(raw.aspect);
  const hasWidth = !isAbsent(raw.width);
  const hasHeight = !isAbsent(raw.height);
  const conflict = hasAspect && (hasWidth || hasHeight);
  if (conflict) {
    const sides = [
      hasWidth && `${label('width')} ${describeValue(raw.width)}`,
      hasHeight && `${label('height')} ${describeValue(raw.height)}`,
    ]
      .filter(Boolean)
      .join(' and ');
    bad(
      'aspect',
      `${describeValue(raw.aspect)} conflicts with ${sides}; give an aspect ratio (${ASPECT_RATIOS.join(', ')}) or a size, not both`,
    );
  }
  if (hasAspect && !conflict) {
    const ratio = typeof raw.aspect === 'string' ? parseAspectRatio(raw.aspect) : undefined;
    if (!ratio) {
      bad('aspect', `must be one of ${ASPECT_RATIOS.join(', ')} (got ${describeValue(raw.aspect)})`);
      return undefined;
    }
    return sizeForAspect(ratio, native);
  }
  const square = sizeForAspect('1:1', native);
  // An image to upscale keeps whatever size it was uploaded at; everything rendered follows the grid.
  const side = (field: 'width' | 'height'): number | undefined => {
    const value = raw[field];
    if (mode === 'upscale') {
      const n = readWholeNumber(value);
      if (isAbsent(value)) {
        bad(field, `required: the ${field} of the image, from ${UPSCALE_INPUT_MIN} to ${UPSCALE_INPUT_MAX}`);
        return undefined;
      }
      if (n === undefined || n < UPSCALE_INPUT_MIN || n > UPSCALE_INPUT_MAX) {
        bad(
          field,
          `must be the ${field} of the image, a whole number from ${UPSCALE_INPUT_MIN} to ${UPSCALE_INPUT_MAX} (got ${describeValue(value)})`,
        );
        return undefined;
      }
      return n;
    }
    if (isAbsent(value)) return square[field];
    const n = readWholeNumber(value);
    if (n === undefined || n < SIDE_MIN || n > SIDE_MAX || n % SIDE_STEP !== 0) {
      bad(
        field,
        `must be a multiple of ${SIDE_STEP} from ${SIDE_MIN} to ${SIDE_MAX} (got ${describeValue(value)})`,
      );
      return undefined;
    }
    return n;
  };
  // Sides are checked even beside a conflicting aspect ratio, so every mistake is told at once.
  const width = side('width');
  const height = side('height');
  return width === undefined || height === undefined || conflict ? undefined : { width, height };
}

function wholeInRange(
  value: unknown,
  min: number,
  max: number,
  fallback: number,
  report: (m: string) => void,
): number {
  if (isAbsent(value)) return fallback;
  const n = readWholeNumber(value);
  if (n === undefined || n < min || n > max) {
    report(`must be a whole number from ${min} to ${max} (got ${describeValue(value)})`);
    return fallback;
  }
  return n;
}

function numberInRange(value: unknown, min: number, max: number, report: (m: string) => void): number {
  const n = readNumber(value);
  if (n === undefined || n < min || n > max) {
    report(`must be a number from ${min} to ${max} (got ${describeValue(value)})`);
    return min;
  }
  return n;
}

/**
 * The refusal a frontend shows for a failed validation. An unknown model alone gets its own
 * identifier (the REST API answers it like the hosted APIs do); anything else is `invalid-request`.
 */
export function invalidRequestError(errors: FieldError[]): UserError {
  const modelOnly = errors.length > 0 && errors.every((e) => e.message.includes('Model id not found'));
  if (modelOnly) {
    return new UserError('model-not-found', errors.map((e) => e.message).join('\n'), { fields: errors });
  }
  return UserError.invalid(errors);
}
