import type { FastifyRequest } from 'fastify';
import type { FieldError } from '../../errors/user-error.ts';
import { fromHostedApiBody } from '../../request/hosted-api-body.ts';
import { dropNeutralFields, readFlag } from '../../request/lenient-values.ts';
import { COUNT_MAX } from '../../request/limits.ts';
import { emptyRawRequest, isAbsent } from '../../request/raw-request.ts';
import type { GenerationMode } from '../../request/types.ts';
import type { FaceContext } from '../operations/face.ts';
import { generate, imageInput } from '../operations/generate.ts';
import type { JobOutcome } from '../operations/job-outcome.ts';
import { bodyOf, schemaErrors } from '../operations/request-body.ts';
import * as schemas from '../route-schemas.ts';
import { readVideoFields } from '../video-fields.ts';

/**
 * The hosted Stable Diffusion APIs' request fields (ModelsLab / stablediffusionapi.com, which easel's
 * /v1 follows), read once for every face that speaks them: easel's /v1 and modelslab's v3, v4 and v6.
 */

type Schema = Record<string, unknown>;

export interface HostedMode {
  mode: GenerationMode;
  /** Body fields holding images, in the order they are read. */
  images: { field: string; role: 'initImage' | 'maskImage' }[];
  body: Schema;
  /** A clip (`num_frames`, `fps`, ... in the body) instead of images. */
  video?: boolean;
}

export const HOSTED_MODES: Record<'txt2img' | 'txt2video' | 'img2img' | 'inpaint' | 'upscale', HostedMode> = {
  txt2img: { mode: 'txt2img', images: [], body: schemas.text2imgBody },
  txt2video: { mode: 'txt2img', images: [], body: schemas.text2videoBody, video: true },
  img2img: {
    mode: 'img2img',
    images: [{ field: 'init_image', role: 'initImage' }],
    body: schemas.img2imgBody,
  },
  inpaint: {
    mode: 'inpaint',
    images: [
      { field: 'init_image', role: 'initImage' },
      { field: 'mask_image', role: 'maskImage' },
    ],
    body: schemas.inpaintBody,
  },
  upscale: {
    mode: 'upscale',
    images: [{ field: 'url', role: 'initImage' }],
    body: schemas.superResolutionBody,
  },
};

/**
 * A field of a feature easel does not have yet, refused by name unless it holds its neutral value
 * (`"lora_model": null`, `"clip_skip": 1`) so a client is never silently given something else.
 */
export interface UnsupportedField {
  field: string;
  /** Whether a given value changes nothing (absent, null and "" always do). */
  neutral: (value: unknown) => boolean;
  why: string;
}

export function unsupportedFieldErrors(
  body: Record<string, unknown>,
  fields: readonly UnsupportedField[],
): FieldError[] {
  return fields
    .filter(({ field, neutral }) => !isAbsent(body[field]) && !neutral(body[field]))
    .map(({ field, why }) => ({ field, message: `${field}: ${why}` }));
}

/** The generate operation for a body in the hosted APIs' fields. */
export async function hostedGenerate(
  ctx: FaceContext,
  hosted: HostedMode,
  request: FastifyRequest,
  unsupported: readonly UnsupportedField[] = [],
): Promise<JobOutcome> {
  const body = bodyOf(request);
  const errors: FieldError[] = [...schemaErrors(request), ...unsupportedFieldErrors(body, unsupported)];
  const { mode } = hosted;

  // super_resolution also takes `init_image` for its `url`.
  const images = hosted.images.map(({ field, role }) =>
    imageInput(
      request,
      body,
      field === 'url' && isAbsent(body.url) && !isAbsent(body.init_image) ? 'init_image' : field,
      role,
    ),
  );
  if (mode === 'upscale' && images.every((i) => i.value === undefined)) {
    errors.push({ field: 'url', message: 'The url field is required.' });
  }

  const raw = mode === 'upscale' ? emptyRawRequest() : fromHostedApiBody(body);
  dropNeutralFields(raw, mode);
  const video = hosted.video === true ? readVideoFields(body, raw) : undefined;
  if (video !== undefined) errors.push(...video.errors);
  raw.labels.upscale = 'scale';
  if (mode === 'upscale') {
    raw.upscale = body.scale;
    if (!isAbsent(body.model_id)) raw.model = body.model_id;
    raw.labels.model = 'model_id';
  }
  return generate(ctx, {
    request,
    mode,
    raw,
    images,
    errors,
    origin: {
      webhook: body.webhook,
      trackId: body.track_id,
      base64: readFlag(body.base64) === true,
      ...(video?.clipFormat !== undefined ? { clipFormat: video.clipFormat } : {}),
    },
    body,
    // modelslab's `samples`: "The maximum value is 4."
    maxCount: COUNT_MAX,
  });
}
