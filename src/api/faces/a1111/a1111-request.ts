import type { FieldError } from '../../../errors/user-error.ts';
import { describeValue, readNumber, readWholeNumber, scalarText } from '../../../request/number-values.ts';
import { emptyRawRequest, isAbsent, type RawRequest } from '../../../request/raw-request.ts';
import { resolveSampler } from '../../../request/sampler-names.ts';

/**
 * AUTOMATIC1111's `/sdapi/v1/txt2img` and `/img2img` bodies (its `StableDiffusionProcessing*API`
 * models) read into easel's raw request. Clients such as `webuiapi` send every field of those models
 * with its default (`denoising_strength: 0.7` and `enable_hr: false` on txt2img, `seed: -1`,
 * `scheduler: "automatic"`, `alwayson_scripts: {}`...), so a field holding its neutral value is
 * ignored, and only a value easel cannot honour (a hires fix, a script, two init images) is refused.
 */

export type A1111Mode = 'txt2img' | 'img2img';

export interface A1111Generation {
  raw: RawRequest;
  /** `init_images[0]` and `mask`, as sent (base64, a data URI, or a URL). */
  initImage?: string;
  mask?: string;
  /** A1111's `mask_blur`: the mask's Gaussian blur radius in pixels (0: none). */
  maskBlur: number;
  /** `inpainting_mask_invert: 1`: black is repainted instead of white. */
  invertMask: boolean;
  /** `send_images: false` answers without the images. */
  sendImages: boolean;
  /** `include_init_images: true` keeps them in the answer's `parameters`. */
  includeInitImages: boolean;
}

type Body = Record<string, unknown>;

/** Fields whose names differ from the hosted APIs', by easel's field. */
const NAMES = {
  prompt: 'prompt',
  negativePrompt: 'negative_prompt',
  width: 'width',
  height: 'height',
  steps: 'steps',
  guidance: 'cfg_scale',
  seed: 'seed',
} as const;

const SCHEDULERS_WITH_OWN_SIGMAS = new Set(['automatic', '']);

function truthy(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  return typeof value === 'string' && ['true', '1', 'yes'].includes(value.trim().toLowerCase());
}

/**
 * The sampler AUTOMATIC1111 names with `sampler_name` (or the older `sampler_index`) and, since its
 * 1.9, `scheduler`: "DPM++ 2M" with "karras" is easel's dpmpp_2m_karras. `automatic` keeps the
 * sampler's own schedule; easel has no other schedules.
 */
function samplerOf(body: Body, errors: FieldError[]): { value?: string; label: string } {
  const field = !isAbsent(body.sampler_name) ? 'sampler_name' : 'sampler_index';
  const name = body[field];
  const scheduler = isAbsent(body.scheduler) ? 'automatic' : scalarText(body.scheduler)?.toLowerCase();
  if (isAbsent(name)) {
    if (scheduler !== 'automatic') {
      errors.push({ field: 'scheduler', message: 'scheduler: needs a sampler_name to apply to' });
    }
    return { label: 'sampler_name' };
  }
  if (typeof name !== 'string') return { value: name as string, label: field };
  if (scheduler === undefined || !(SCHEDULERS_WITH_OWN_SIGMAS.has(scheduler) || scheduler === 'karras')) {
    errors.push({
      field: 'scheduler',
      message: `scheduler: must be "automatic" or "karras" (got ${describeValue(body.scheduler)})`,
    });
    return { value: name, label: field };
  }
  if (scheduler !== 'karras' || /karras\s*$/i.test(name)) return { value: name, label: field };
  const withKarras = `${name.trim()} Karras`;
  if (resolveSampler(withKarras) === undefined && resolveSampler(name) !== undefined) {
    errors.push({
      field: 'scheduler',
      message: `scheduler: easel has no Karras schedule for ${describeValue(name)}; use "automatic"`,
    });
    return { value: name, label: field };
  }
  return { value: withKarras, label: field };
}

/** `batch_size` images, `n_iter` times: easel renders them as one request of that many images. */
function countOf(body: Body, errors: FieldError[]): unknown {
  const batch = isAbsent(body.batch_size) ? 1 : readWholeNumber(body.batch_size);
  const iterations = isAbsent(body.n_iter) ? 1 : readWholeNumber(body.n_iter);
  if (batch === undefined || iterations === undefined) {
    const field = batch === undefined ? 'batch_size' : 'n_iter';
    errors.push({ field, message: `${field}: must be a whole number (got ${describeValue(body[field])})` });
    return undefined;
  }
  return batch * iterations;
}

/** What easel cannot do, asked for explicitly: refused rather than silently left out. */
function unsupported(body: Body, mode: A1111Mode, errors: FieldError[]): void {
  for (const field of ['hr_resize_x', 'hr_resize_y']) {
    if (
      mode === 'txt2img' &&
      truthy(body.enable_hr) &&
      !isAbsent(body[field]) &&
      readNumber(body[field]) !== 0
    ) {
      errors.push({
        field,
        message: `${field}: easel sizes the hi-res fix by hr_scale; leave ${field} at 0`,
      });
    }
  }
  if (!isAbsent(body.script_name)) {
    errors.push({ field: 'script_name', message: `Script ${describeValue(body.script_name)} not found` });
  }
  if (Array.isArray(body.styles) && body.styles.length > 0) {
    errors.push({ field: 'styles', message: 'styles: easel has no saved prompt styles; send an empty list' });
  }
}

/** `enable_hr` with hr_scale (2 when absent), hr_second_pass_steps, denoising_strength and hr_upscaler. */
function readHiresFields(fields: Body, raw: RawRequest): void {
  Object.assign(raw.labels, {
    hires: 'hr_scale',
    hiresSteps: 'hr_second_pass_steps',
    hiresDenoise: 'denoising_strength',
    hiresUpscaler: 'hr_upscaler',
  });
  if (!truthy(fields.enable_hr)) return;
  raw.hires = isAbsent(fields.hr_scale) ? 2 : fields.hr_scale;
  if (!isAbsent(fields.hr_second_pass_steps)) raw.hiresSteps = fields.hr_second_pass_steps;
  if (!isAbsent(fields.denoising_strength)) raw.hiresDenoise = fields.denoising_strength;
  if (!isAbsent(fields.hr_upscaler)) raw.hiresUpscaler = fields.hr_upscaler;
}

export function fromA1111Body(body: unknown, mode: A1111Mode): A1111Generation {
  const raw = emptyRawRequest();
  const generation: A1111Generation = {
    raw,
    maskBlur: 4,
    invertMask: false,
    sendImages: true,
    includeInitImages: false,
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    raw.errors.push({ field: 'body', message: `body: must be a JSON object (got ${describeValue(body)})` });
    return generation;
  }
  const fields = body as Body;
  raw.mode = mode;
  for (const [field, name] of Object.entries(NAMES) as [keyof typeof NAMES, string][]) {
    raw.labels[field] = name;
    if (!isAbsent(fields[name])) raw[field] = fields[name];
  }
  // -1 is AUTOMATIC1111's "random", easel's is 0 or none.
  if (readNumber(fields.seed) === -1) delete raw.seed;

  const sampler = samplerOf(fields, raw.errors);
  raw.labels.sampler = sampler.label;
  if (sampler.value !== undefined) raw.sampler = sampler.value;

  raw.labels.count = isAbsent(fields.n_iter) ? 'batch_size' : 'batch_size x n_iter';
  const count = countOf(fields, raw.errors);
  if (count !== undefined) raw.count = count;

  const overrides = fields.override_settings;
  if (typeof overrides === 'object' && overrides !== null && !Array.isArray(overrides)) {
    const checkpoint = (overrides as Body).sd_model_checkpoint;
    if (!isAbsent(checkpoint)) raw.model = checkpoint;
    const clipSkip = (overrides as Body).CLIP_stop_at_last_layers;
    // 1 is A1111's default (the last layer): clients send it for every model, SDXL's too.
    if (!isAbsent(clipSkip) && readNumber(clipSkip) !== 1) raw.clipSkip = clipSkip;
  }
  raw.labels.model = 'sd_model_checkpoint';
  raw.labels.clipSkip = 'CLIP_stop_at_last_layers';
  unsupported(fields, mode, raw.errors);

  generation.sendImages = isAbsent(fields.send_images) || truthy(fields.send_images);
  if (mode === 'txt2img') {
    readHiresFields(fields, raw);
    return generation;
  }

  // img2img: one init image, optionally a mask (then it is an inpaint).
  raw.labels.strength = 'denoising_strength';
  raw.labels.initImage = 'init_images';
  raw.labels.maskImage = 'mask';
  if (!isAbsent(fields.denoising_strength)) raw.strength = fields.denoising_strength;
  generation.includeInitImages = truthy(fields.include_init_images);
  const images = fields.init_images;
  if (Array.isArray(images) && typeof images[0] === 'string' && !isAbsent(images[0])) {
    generation.initImage = images[0];
    if (images.length > 1) {
      raw.errors.push({
        field: 'init_images',
        message: `init_images: easel starts from one image (got ${images.length}); send one request per image`,
      });
    }
  } else if (!isAbsent(images)) {
    raw.errors.push({
      field: 'init_images',
      message: 'init_images: must be a list holding one base64-encoded image',
    });
  }
  if (typeof fields.mask === 'string' && !isAbsent(fields.mask)) {
    generation.mask = fields.mask;
    raw.mode = 'inpaint';
    generation.invertMask = readNumber(fields.inpainting_mask_invert) === 1;
    if (!isAbsent(fields.mask_blur)) {
      const blur = readNumber(fields.mask_blur);
      if (blur === undefined || blur < 0 || blur > 64) {
        raw.errors.push({
          field: 'mask_blur',
          message: `mask_blur: must be a number of pixels from 0 to 64 (got ${describeValue(fields.mask_blur)})`,
        });
      } else {
        generation.maskBlur = blur;
      }
    }
  } else if (!isAbsent(fields.mask)) {
    raw.errors.push({ field: 'mask', message: 'mask: must be a base64-encoded image' });
  }
  return generation;
}
