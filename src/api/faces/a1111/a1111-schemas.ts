import { PROMPT_MAX_CHARS } from '../../../request/limits.ts';
import { TEXT_MAX_CHARS } from '../../text-limits.ts';

/**
 * The AUTOMATIC1111 face's bodies and answers as JSON schemas (validation and the OpenAPI document).
 * Loose on purpose: its clients send every field of A1111's models, numbers and flags included as
 * whatever their language made of them; what easel reads is checked by the shared validator, which
 * words the messages; the rest is ignored.
 */

type Schema = Record<string, unknown>;

const numberLike = (description: string): Schema => ({
  type: ['number', 'string'],
  maxLength: TEXT_MAX_CHARS.number,
  description,
});
const flag = (description: string): Schema => ({
  type: ['boolean', 'integer', 'string'],
  maxLength: TEXT_MAX_CHARS.flag,
  description,
});
const text = (description: string, maxLength: number = TEXT_MAX_CHARS.model): Schema => ({
  type: 'string',
  maxLength,
  description,
});

const common: Record<string, Schema> = {
  prompt: text('What to draw.', PROMPT_MAX_CHARS),
  negative_prompt: text('What the image should not contain.', PROMPT_MAX_CHARS),
  width: numberLike('Width in pixels (default: the model size).'),
  height: numberLike('Height in pixels (default: the model size).'),
  steps: numberLike('Sampling steps.'),
  cfg_scale: numberLike('Classifier-free guidance.'),
  seed: numberLike('-1 (or none) picks one at random; reported in info.seed.'),
  sampler_name: text('Sampler, by A1111 name ("Euler a", "DPM++ 2M"); GET /sdapi/v1/samplers lists them.'),
  sampler_index: text('Older name of sampler_name.'),
  scheduler: text('"automatic" (the sampler\'s own) or "karras".'),
  batch_size: numberLike('Images per batch; batch_size x n_iter images in all (at most 10).'),
  n_iter: numberLike('Batches.'),
  override_settings: {
    type: 'object',
    description:
      '`sd_model_checkpoint` picks the model for this request (a title from /sdapi/v1/sd-models); `CLIP_stop_at_last_layers` is the clip skip (1–12, SD 1.x and 2.x).',
  },
  send_images: flag('false: answer without the images.'),
  enable_hr: flag('Hi-res fix: render at width x height, enlarge by hr_scale, then img2img at that size.'),
  hr_scale: numberLike('Hi-res fix scale, 1 to 4 (default 2).'),
  hr_second_pass_steps: numberLike('Hi-res fix steps (0: as many as the first pass).'),
  hr_upscaler: text(
    'Latent (default), Latent (nearest), Lanczos, or an ESRGAN name for the installed upscaler.',
  ),
  script_name: text('Scripts: easel has none, so a name is refused.'),
  styles: { type: 'array', description: 'Saved styles: easel has none; send an empty list.' },
};

export const txt2imgBody: Schema = {
  type: 'object',
  properties: {
    ...common,
    denoising_strength: numberLike('The hi-res fix’s denoising strength (default 0.7), with enable_hr.'),
  },
};

export const img2imgBody: Schema = {
  type: 'object',
  properties: {
    ...common,
    init_images: {
      type: 'array',
      maxItems: 16,
      items: { type: 'string' },
      description: 'One starting image: base64, a data URI or an http(s) URL.',
    },
    mask: { type: 'string', description: 'White where the image is repainted (an inpaint).' },
    denoising_strength: numberLike('How much the image may change, 0-1 (default 0.75).'),
    mask_blur: numberLike('Blur radius of the mask in pixels (default 4).'),
    inpainting_mask_invert: flag('1: repaint the black part instead.'),
    inpainting_fill: numberLike('Accepted; easel always starts from the original image.'),
    inpaint_full_res: flag('Accepted; easel repaints at the image’s full size.'),
    include_init_images: flag('true: keep init_images and mask in the answer’s parameters.'),
  },
};

export const optionsBody: Schema = {
  type: 'object',
  properties: {
    sd_model_checkpoint: text('The model this key uses when a request names none.'),
  },
};

export const pngInfoBody: Schema = {
  type: 'object',
  properties: { image: { type: 'string', description: 'A base64-encoded PNG (or a data URI).' } },
};

export const imageAnswer: Schema = {
  type: 'object',
  required: ['images', 'parameters', 'info'],
  properties: {
    images: { type: 'array', items: { type: 'string' }, description: 'Base64 PNGs.' },
    parameters: { type: 'object', description: 'The request as it arrived.' },
    info: {
      type: 'string',
      description: 'A JSON string: seed, all_seeds, prompt, all_prompts, infotexts, job_timestamp, ...',
    },
  },
};

export const pngInfoAnswer: Schema = {
  type: 'object',
  properties: {
    info: { type: 'string' },
    items: { type: 'object' },
    parameters: { type: 'object' },
  },
};

export const errorAnswer: Schema = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    detail: { type: 'string' },
    body: { type: 'string' },
    errors: { type: 'string' },
  },
};

export const validationAnswer: Schema = {
  type: 'object',
  properties: {
    detail: {
      type: 'array',
      items: {
        type: 'object',
        properties: { loc: { type: 'array' }, msg: { type: 'string' }, type: { type: 'string' } },
      },
    },
  },
};
