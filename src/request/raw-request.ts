import type { FieldError } from '../errors/user-error.ts';
import type { GenerationMode, ImageRef } from './types.ts';

/**
 * What a frontend hands to `validateRequest`: the member's values as they arrived (strings or
 * numbers, unchecked), the name each value had on that frontend (so a message can say `--cfg` to a
 * chat member and `guidance_scale` to an API client), and the errors found while reading them
 * (unknown flag, flag without a value), which are reported together with the validator's own.
 */
export interface RawRequest {
  mode?: GenerationMode;
  prompt?: unknown;
  negativePrompt?: unknown;
  aspect?: unknown;
  width?: unknown;
  height?: unknown;
  seed?: unknown;
  steps?: unknown;
  guidance?: unknown;
  sampler?: unknown;
  model?: unknown;
  count?: unknown;
  strength?: unknown;
  initImage?: ImageRef;
  maskImage?: ImageRef;
  /** Region text (`center`, `10,10,50,50`) or a `RegionPercent`. */
  region?: unknown;
  /** Upscale factor (2 or 4), for mode `upscale`. */
  upscale?: unknown;
  /** Zoom-out factor (1.5 or 2), for mode `outpaint`. */
  zoomOut?: unknown;
  /** `--lora name:0.8, other`, the hosted APIs' `lora_model` (comma list), or a list of {name, strength}. */
  loras?: unknown;
  /** `lora_strength`: one number for every LoRA, or one each (comma list). */
  loraStrength?: unknown;
  /** `embeddings_model`: embedding names (comma list). */
  embeddings?: unknown;
  /** `--clipskip N`, `clip_skip`, A1111's `CLIP_stop_at_last_layers`. */
  clipSkip?: unknown;
  /** The hi-res fix's scale: `--hires 2`, A1111's `hr_scale` with `enable_hr`. */
  hires?: unknown;
  hiresSteps?: unknown;
  hiresDenoise?: unknown;
  hiresUpscaler?: unknown;
  /**
   * `--repeat N`: how many jobs of this prompt, each with its own seed. Not part of the request:
   * the chat commands read it (commands/imagine.ts) before one request per job is validated.
   */
  repeat?: unknown;
  /** `--video N`: frames of a clip; the other video fields only apply with it. */
  video?: unknown;
  fps?: unknown;
  /** Seconds of playback: another way to give the fps (frames / duration). */
  duration?: unknown;
  loop?: unknown;
  /** `walk`, `morph` or `drift`; absent: morph when `to` is given, else walk. */
  motion?: unknown;
  /** The second prompt of a morph. */
  to?: unknown;
  /** The frontend's name for each field; the validator falls back to the canonical name. */
  labels: Partial<Record<RawField, string>>;
  errors: FieldError[];
}

export type RawField =
  | 'prompt'
  | 'negativePrompt'
  | 'aspect'
  | 'width'
  | 'height'
  | 'seed'
  | 'steps'
  | 'guidance'
  | 'sampler'
  | 'model'
  | 'count'
  | 'strength'
  | 'initImage'
  | 'maskImage'
  | 'region'
  | 'upscale'
  | 'zoomOut'
  | 'loras'
  | 'loraStrength'
  | 'embeddings'
  | 'clipSkip'
  | 'hires'
  | 'hiresSteps'
  | 'hiresDenoise'
  | 'hiresUpscaler'
  | 'repeat'
  | 'video'
  | 'fps'
  | 'duration'
  | 'loop'
  | 'motion'
  | 'to';

/** Fields whose raw value is whatever arrived (not an already stored image). */
export type ValueField = Exclude<RawField, 'initImage' | 'maskImage'>;

/** The names used in messages when a frontend gave none (the Discord option names). */
export const CANONICAL_LABELS: Record<RawField, string> = {
  prompt: 'prompt',
  negativePrompt: 'negative',
  aspect: 'aspect',
  width: 'width',
  height: 'height',
  seed: 'seed',
  steps: 'steps',
  guidance: 'guidance',
  sampler: 'sampler',
  model: 'model',
  count: 'count',
  strength: 'strength',
  initImage: 'image',
  maskImage: 'mask',
  region: 'region',
  upscale: 'scale',
  zoomOut: 'zoom',
  loras: 'lora',
  loraStrength: 'lora_strength',
  embeddings: 'embeddings',
  clipSkip: 'clip_skip',
  hires: 'hires',
  hiresSteps: 'hires_steps',
  hiresDenoise: 'hires_denoise',
  hiresUpscaler: 'hires_upscaler',
  repeat: 'repeat',
  video: 'video',
  fps: 'fps',
  duration: 'duration',
  loop: 'loop',
  motion: 'motion',
  to: 'to',
};

export function emptyRawRequest(): RawRequest {
  return { labels: {}, errors: [] };
}

/** Absent for every frontend: not given, JSON null, or an empty / blank string. */
export function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}
