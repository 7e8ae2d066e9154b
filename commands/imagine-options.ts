import {
  ASPECT_RATIOS,
  CLIP_SKIP_MAX,
  CLIP_SKIP_MIN,
  COUNT_MAX,
  COUNT_MIN,
  GUIDANCE_MAX,
  GUIDANCE_MIN,
  HIRES_SCALE_MAX,
  HIRES_SCALE_MIN,
  PROMPT_MAX_CHARS,
  REPEAT_MAX,
  SEED_MAX,
  STRENGTH_MAX,
  STRENGTH_MIN,
  VIDEO_FPS_DEFAULT,
  VIDEO_FPS_MAX,
  VIDEO_FPS_MIN,
  VIDEO_FRAMES_MAX,
  VIDEO_FRAMES_MIN,
} from '../src/request/limits.ts';
import type { ValueField } from '../src/request/raw-request.ts';
import { SAMPLERS, type SamplerName, VIDEO_MODES } from '../src/request/types.ts';
import { type CommandSchema, type OptionSchema, plainChoices } from './option-schema.ts';

/**
 * `/imagine`'s options, declared once: Discord's typed options are generated from this list, and
 * the flags in prompt text (Slack, the CLI, Discord's `prompt` field) are read with it
 * (src/request/prompt-flags.ts). Option names are what members type and what messages quote.
 *
 * A new option is one entry here: its `field` (a RawRequest field the validator reads), its typed
 * form, and its `flags` and `example` when text may carry it. test/commands/option-schemas.test.ts
 * then holds Discord's definition and the text parser to it.
 */

/** An `/imagine` option and the request field it fills (the image is read by each platform). */
export interface ImagineOption extends OptionSchema {
  field?: Exclude<
    ValueField,
    | 'width'
    | 'height'
    | 'region'
    | 'upscale'
    | 'zoomOut'
    | 'loraStrength'
    | 'embeddings'
    | 'hiresSteps'
    | 'hiresDenoise'
    | 'hiresUpscaler'
  >;
}

/**
 * Names shown in the sampler list; the values are easel's sampler names. Every sampler is a choice:
 * there are fewer than Discord's 25 choices an option may have (the hosted and diffusers spellings
 * of the same samplers still work in the prompt's --sampler flag).
 */
const SAMPLER_LABELS: Record<SamplerName, string> = {
  euler: 'Euler',
  euler_a: 'Euler a',
  ddim: 'DDIM',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_karras: 'DPM++ 2M Karras',
  lcm: 'LCM',
  pndm: 'PNDM',
  heun: 'Heun',
  lms: 'LMS',
  lms_karras: 'LMS Karras',
  dpm_single: 'DPM Single',
  dpm_single_karras: 'DPM Single Karras',
  dpm2: 'DPM2',
  dpm2_karras: 'DPM2 Karras',
  dpm2_a: 'DPM2 a',
  dpm2_a_karras: 'DPM2 a Karras',
  unipc: 'UniPC',
  deis: 'DEIS',
  dpmpp_2m_sde: 'DPM++ 2M SDE',
  dpmpp_2m_sde_karras: 'DPM++ 2M SDE Karras',
  flow_euler: 'Flow Euler (SD3)',
};

export const SAMPLER_CHOICES = SAMPLERS.map((s) => ({ name: SAMPLER_LABELS[s], value: s }));

/** The most steps a chat member may type; a scope's `max-steps` may allow fewer. */
export const STEPS_OPTION_MAX = 150;

export const IMAGINE_OPTIONS = [
  {
    name: 'prompt',
    field: 'prompt',
    kind: 'string',
    description: 'What to draw; Midjourney-style flags (--ar, --seed, --no, --steps, --cfg ...) work too',
    required: true,
    maxLength: PROMPT_MAX_CHARS,
  },
  {
    name: 'negative',
    field: 'negativePrompt',
    kind: 'string',
    description: 'What to keep out of the image',
    maxLength: PROMPT_MAX_CHARS,
    flags: ['--no'],
    example: 'blurry, text',
  },
  {
    name: 'aspect',
    field: 'aspect',
    kind: 'string',
    description: 'Aspect ratio (same area as the model’s native size)',
    choices: plainChoices(ASPECT_RATIOS),
    flags: ['--ar', '--aspect'],
    example: '16:9',
  },
  {
    name: 'seed',
    field: 'seed',
    kind: 'integer',
    description: 'Seed for reproducible images (0 = random)',
    min: 0,
    max: SEED_MAX,
    flags: ['--seed'],
    example: '42',
  },
  {
    name: 'steps',
    field: 'steps',
    kind: 'integer',
    description: 'Denoising steps',
    min: 1,
    max: STEPS_OPTION_MAX,
    flags: ['--steps'],
    example: '30',
  },
  {
    name: 'guidance',
    field: 'guidance',
    kind: 'number',
    description: 'How closely to follow the prompt (CFG scale)',
    min: GUIDANCE_MIN,
    max: GUIDANCE_MAX,
    flags: ['--cfg'],
    example: '7.5',
  },
  {
    name: 'sampler',
    field: 'sampler',
    kind: 'string',
    description: 'Sampler (scheduler)',
    choices: SAMPLER_CHOICES,
    flags: ['--sampler'],
    example: 'euler_a',
  },
  {
    name: 'model',
    field: 'model',
    kind: 'string',
    description: 'Model to render with',
    autocomplete: true,
    maxLength: 100,
    flags: ['--model'],
    example: 'sd-1.5',
  },
  {
    name: 'count',
    field: 'count',
    kind: 'integer',
    description: 'How many images (1-4)',
    min: COUNT_MIN,
    max: COUNT_MAX,
    flags: ['--n'],
    example: '4',
  },
  { name: 'image', kind: 'attachment', description: 'Start from this image (img2img): PNG, JPEG or WebP' },
  {
    name: 'strength',
    field: 'strength',
    kind: 'number',
    description: 'With an image: how much to change it (0 = keep, 1 = ignore it)',
    min: STRENGTH_MIN,
    max: STRENGTH_MAX,
    flags: ['--strength'],
    example: '0.6',
  },
  {
    name: 'lora',
    field: 'loras',
    kind: 'string',
    description:
      'LoRAs from MODELS_DIR/loras, name:strength, comma-separated (or <lora:name:0.8> in the prompt)',
    autocomplete: true,
    maxLength: 400,
    flags: ['--lora'],
    example: 'name:0.8, other:0.5',
  },
  {
    name: 'hires',
    field: 'hires',
    kind: 'number',
    description: 'Hi-res fix: render at the model size, enlarge this many times, then redraw detail',
    min: HIRES_SCALE_MIN,
    max: HIRES_SCALE_MAX,
    flags: ['--hires'],
    example: '2',
  },
  {
    name: 'clipskip',
    field: 'clipSkip',
    kind: 'integer',
    description: 'Clip skip: read the prompt this many CLIP layers from the end (SD 1.x/2.x; 1 = last)',
    min: CLIP_SKIP_MIN,
    max: CLIP_SKIP_MAX,
    flags: ['--clipskip', '--clip-skip'],
    example: '2',
  },
  {
    name: 'repeat',
    field: 'repeat',
    kind: 'integer',
    description: `Run the prompt this many times, each with its own seed (1-${REPEAT_MAX})`,
    min: 1,
    max: REPEAT_MAX,
    flags: ['--repeat'],
    example: '4',
  },
  {
    name: 'video',
    field: 'video',
    kind: 'integer',
    description: `Make a short clip of this many frames (${VIDEO_FRAMES_MIN}-${VIDEO_FRAMES_MAX}) instead of images`,
    min: VIDEO_FRAMES_MIN,
    max: VIDEO_FRAMES_MAX,
    flags: ['--video'],
    example: '16',
  },
  {
    name: 'to',
    field: 'to',
    kind: 'string',
    description: 'With video: a second prompt the clip morphs into',
    maxLength: PROMPT_MAX_CHARS,
    flags: ['--to'],
    example: 'a red dragon',
  },
  {
    name: 'motion',
    field: 'motion',
    kind: 'string',
    description: 'With video: walk (between seeds), morph (needs to), drift (zooms in)',
    choices: plainChoices(VIDEO_MODES),
    flags: ['--motion'],
    example: 'drift',
  },
  {
    name: 'fps',
    field: 'fps',
    kind: 'number',
    description: `With video: frames a second (${VIDEO_FPS_MIN}-${VIDEO_FPS_MAX}, default ${VIDEO_FPS_DEFAULT})`,
    min: VIDEO_FPS_MIN,
    max: VIDEO_FPS_MAX,
    flags: ['--fps'],
    example: '8',
  },
  {
    name: 'duration',
    field: 'duration',
    kind: 'number',
    description: 'With video: seconds of playback (sets the fps from the frames)',
    min: 0.1,
    max: VIDEO_FRAMES_MAX,
    flags: ['--duration'],
    example: '2',
  },
  {
    name: 'loop',
    field: 'loop',
    kind: 'boolean',
    description: 'With video: end where it began, so it repeats seamlessly',
    flags: ['--loop'],
    example: 'true',
  },
] as const satisfies readonly ImagineOption[];

export type ImagineOptionName = (typeof IMAGINE_OPTIONS)[number]['name'];

export const IMAGINE_COMMAND: CommandSchema = {
  name: 'imagine',
  description: 'Generate images from a prompt (flags such as --ar 16:9 --seed 42 work in the prompt)',
  options: IMAGINE_OPTIONS,
};

/** The options an `/imagine` prompt's text may carry as flags. */
export const IMAGINE_FLAG_OPTIONS: readonly (ImagineOption & {
  field: NonNullable<ImagineOption['field']>;
  flags: readonly string[];
})[] = (IMAGINE_OPTIONS as readonly ImagineOption[]).filter(
  (o): o is ImagineOption & { field: NonNullable<ImagineOption['field']>; flags: readonly string[] } =>
    o.field !== undefined && o.flags !== undefined,
);
