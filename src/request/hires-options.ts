import type { ModelEntry } from '../models/registry.ts';
import {
  HIRES_DENOISE_DEFAULT,
  HIRES_SCALE_MAX,
  HIRES_SCALE_MIN,
  HIRES_SIDE_MAX,
  SIDE_STEP,
} from './limits.ts';
import { describeValue, readNumber, readWholeNumber } from './number-values.ts';
import { isAbsent, type RawField, type RawRequest } from './raw-request.ts';
import { HIRES_UPSCALERS, type HiresFix, type HiresUpscaler } from './types.ts';

/**
 * The hi-res fix's fields (`--hires 2` on chat; A1111's enable_hr, hr_scale, hr_second_pass_steps,
 * denoising_strength, hr_upscaler): the first pass is the request's size, the picture that size
 * times the scale, rounded to the side step.
 */

/** A1111's upscaler names (and easel's) to what easel does with them. */
export function resolveHiresUpscaler(name: string): HiresUpscaler | undefined {
  const n = name.trim().toLowerCase();
  if ((HIRES_UPSCALERS as readonly string[]).includes(n)) return n as HiresUpscaler;
  if (n === 'latent (nearest)' || n === 'latent (nearest-exact)') return 'latent-nearest';
  if (n.startsWith('latent')) return 'latent';
  if (n === 'lanczos' || n === 'nearest' || n === 'none') return 'lanczos';
  if (/esrgan|swinir|ldsr|scunet|dat/.test(n)) return 'upscaler';
  return undefined;
}

const UPSCALER_HELP = 'Latent, Latent (nearest), Lanczos or an ESRGAN upscaler (R-ESRGAN 4x+)';

export function readHires(
  raw: RawRequest,
  context: { mode: string; size?: { width: number; height: number }; model?: ModelEntry; maxPixels?: number },
  bad: (field: RawField, message: string) => void,
): HiresFix | undefined {
  const others: RawField[] = ['hiresSteps', 'hiresDenoise', 'hiresUpscaler'];
  if (isAbsent(raw.hires)) {
    for (const field of others)
      if (!isAbsent(raw[field as 'hiresSteps'])) bad(field, 'applies only with the hi-res fix');
    return undefined;
  }
  if (context.mode !== 'txt2img') {
    bad('hires', 'the hi-res fix applies to text-to-image renders; leave it out');
    return undefined;
  }
  const scale = readNumber(raw.hires);
  if (scale === undefined || scale < HIRES_SCALE_MIN || scale > HIRES_SCALE_MAX) {
    bad(
      'hires',
      `must be a scale from ${HIRES_SCALE_MIN} to ${HIRES_SCALE_MAX}, e.g. 2 (got ${describeValue(raw.hires)})`,
    );
    return undefined;
  }
  let steps = 0;
  if (!isAbsent(raw.hiresSteps)) {
    const n = readWholeNumber(raw.hiresSteps);
    const max = context.model?.limits.maxSteps ?? 150;
    if (n === undefined || n < 0 || n > max) {
      bad(
        'hiresSteps',
        `must be a whole number from 0 (as many as the first pass) to ${max} (got ${describeValue(raw.hiresSteps)})`,
      );
    } else steps = n;
  }
  let denoise = HIRES_DENOISE_DEFAULT;
  if (!isAbsent(raw.hiresDenoise)) {
    const n = readNumber(raw.hiresDenoise);
    if (n === undefined || n < 0 || n > 1) {
      bad('hiresDenoise', `must be a number from 0 to 1 (got ${describeValue(raw.hiresDenoise)})`);
    } else denoise = n;
  }
  let upscaler: HiresUpscaler = 'latent';
  if (!isAbsent(raw.hiresUpscaler)) {
    const resolved =
      typeof raw.hiresUpscaler === 'string' ? resolveHiresUpscaler(raw.hiresUpscaler) : undefined;
    if (resolved === undefined)
      bad('hiresUpscaler', `must be ${UPSCALER_HELP} (got ${describeValue(raw.hiresUpscaler)})`);
    else upscaler = resolved;
  }
  if (context.size === undefined) return undefined;
  const side = (n: number) => Math.max(SIDE_STEP, Math.round((n * scale) / SIDE_STEP) * SIDE_STEP);
  const width = side(context.size.width);
  const height = side(context.size.height);
  if (width > HIRES_SIDE_MAX || height > HIRES_SIDE_MAX) {
    bad(
      'hires',
      `${context.size.width}x${context.size.height} times ${scale} is ${width}x${height}, over ${HIRES_SIDE_MAX} a side; use a smaller scale`,
    );
    return undefined;
  }
  if (context.maxPixels !== undefined && width * height > context.maxPixels) {
    bad(
      'hires',
      `the hi-res picture ${width}x${height} is ${width * height} pixels, over your limit of ${context.maxPixels}`,
    );
    return undefined;
  }
  return { scale, width, height, steps, denoise, upscaler };
}
