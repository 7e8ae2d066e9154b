/**
 * JSON schemas of the REST API: Fastify validates bodies with them and the OpenAPI document at
 * /v1/openapi.json is built from them, so the document cannot drift from what the server accepts.
 * Ranges live in descriptions, not in `minimum`/`maximum`: the shared request validator checks them
 * (model-dependent limits included) and words the messages the same way for every frontend.
 */

import {
  PROMPT_MAX_CHARS,
  TEXT2VIDEO_DEFAULT_FRAMES,
  VIDEO_FPS_DEFAULT,
  VIDEO_FPS_MAX,
  VIDEO_FPS_MIN,
  VIDEO_FRAMES_MAX,
  VIDEO_FRAMES_MIN,
} from '../request/limits.ts';
import { SAMPLERS } from '../request/types.ts';
import { TEXT_MAX_CHARS } from './text-limits.ts';

type Schema = Record<string, unknown>;

const numberLike = (description: string, integer = false): Schema => ({
  type: integer ? ['integer', 'string'] : ['number', 'string'],
  maxLength: TEXT_MAX_CHARS.number,
  description,
});

const keyField: Schema = {
  type: 'string',
  maxLength: TEXT_MAX_CHARS.key,
  description:
    'Your API key. May also be sent as `Authorization: Bearer <key>` or `x-api-key: <key>` (checked before ' +
    'the body is read). In a body over 1 MB, send it first.',
};

const commonFields: Record<string, Schema> = {
  key: keyField,
  model_id: {
    type: 'string',
    maxLength: TEXT_MAX_CHARS.model,
    description: 'Model id or alias (`GET /v1/models` lists them). Also accepted as `model`.',
  },
  model: { type: 'string', maxLength: TEXT_MAX_CHARS.model, description: 'Same as `model_id`.' },
  negative_prompt: {
    type: 'string',
    maxLength: PROMPT_MAX_CHARS,
    description: 'What the image should not contain.',
  },
  width: numberLike('Width in pixels, 320-1536 in steps of 64 (default: the model size).', true),
  height: numberLike('Height in pixels, 320-1536 in steps of 64 (default: the model size).', true),
  img_width: numberLike('Same as `width`.', true),
  img_height: numberLike('Same as `height`.', true),
  aspect_ratio: {
    type: 'string',
    maxLength: TEXT_MAX_CHARS.aspectRatio,
    description:
      'Instead of width/height: 1:1, 16:9, 9:16, 2:3, 3:2, 4:5, 5:4, 21:9 or 9:21 at the model area.',
  },
  samples: numberLike('Images to make, 1-4 (default 1).', true),
  num_inference_steps: numberLike('Denoising steps (default and range depend on the model).', true),
  guidance_scale: numberLike('Classifier-free guidance, 0-20 (default depends on the model).'),
  seed: numberLike('0-9007199254740991; 0, null or absent picks a random seed (always reported back).', true),
  scheduler: {
    type: 'string',
    maxLength: TEXT_MAX_CHARS.scheduler,
    description:
      `Sampler: ${SAMPLERS.join(', ')}, or the hosted and AUTOMATIC1111 names ` +
      '("DPM Single", "DPM2 a Karras", "DPM++ 2M SDE Karras", ...). A diffusers class name spelled ' +
      'exactly ("UniPCMultistepScheduler") runs that class with the model\'s scheduler config as given.',
  },
  base64: {
    type: ['boolean', 'string'],
    maxLength: TEXT_MAX_CHARS.flag,
    description: 'true: `output` holds base64-encoded PNGs instead of URLs.',
  },
  webhook: {
    type: 'string',
    maxLength: TEXT_MAX_CHARS.webhook,
    description: 'A public http(s) URL that receives the final answer as a signed POST (X-Easel-Signature).',
  },
  track_id: {
    type: ['string', 'integer'],
    maxLength: TEXT_MAX_CHARS.trackId,
    description: 'Your own id, echoed in the answer and the webhook call.',
  },
};

/**
 * Fields that carry an image. Their values may be megabytes of base64, so the body reader holds long
 * ones aside rather than parsing them (large-body-values.ts); every other string stays short. Only a
 * route whose body schema has the field holds it (AUTOMATIC1111's `init_images`, `mask` and `image`).
 */
export const IMAGE_FIELDS = ['init_image', 'mask_image', 'url', 'init_images', 'mask', 'image'] as const;

const imageField = (description: string): Schema => ({
  type: 'string',
  description: `${description} A public http(s) URL, a data URI or bare base64 (PNG, JPEG, WebP, GIF, AVIF).`,
});

const strength = numberLike('How much the image may change, 0-1 (default 0.7).');

function body(required: string[], fields: Record<string, Schema>): Schema {
  return { type: 'object', required, properties: { ...commonFields, ...fields } };
}

export const text2imgBody = body(['prompt'], {
  prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'What to draw.' },
});

/** A clip from a prompt (easel's /v1/text2video and modelslab's v6 video/text2video). */
export const text2videoBody = body(['prompt'], {
  prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'What the clip shows.' },
  num_frames: numberLike(
    `Frames in the clip, ${VIDEO_FRAMES_MIN}-${VIDEO_FRAMES_MAX} (default ${TEXT2VIDEO_DEFAULT_FRAMES}).`,
    true,
  ),
  fps: numberLike(`Frames a second, ${VIDEO_FPS_MIN}-${VIDEO_FPS_MAX} (default ${VIDEO_FPS_DEFAULT}).`),
  duration: numberLike('Instead of fps: seconds of playback (fps = num_frames / duration).'),
  loop: {
    type: ['boolean', 'string'],
    maxLength: TEXT_MAX_CHARS.flag,
    description: 'true: the clip ends where it began, so it repeats seamlessly (not with motion drift).',
  },
  motion: {
    type: 'string',
    maxLength: TEXT_MAX_CHARS.flag,
    description:
      '`walk` (the starting noise moves between neighbouring seeds; the default), `morph` (from `prompt` to ' +
      '`morph_to`; the default when it is given) or `drift` (each frame an img2img of the last, zoomed in).',
  },
  morph_to: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'The prompt a morph ends on.' },
  output_type: {
    type: 'string',
    maxLength: TEXT_MAX_CHARS.flag,
    description:
      '`mp4` (H.264; where the worker has ffmpeg, else the GIF), `gif` or `webp`: the file `output` links. ' +
      '`video.files` links every format made. Default mp4.',
  },
});

export const img2imgBody = body(['prompt', 'init_image'], {
  prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'What the new image should show.' },
  init_image: imageField('The starting image.'),
  strength,
});

export const inpaintBody = body(['prompt', 'init_image', 'mask_image'], {
  prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'What to paint in the masked area.' },
  init_image: imageField(
    'The image to change. For outpainting, the image already placed on a larger canvas.',
  ),
  mask_image: imageField('White where the image is repainted, black where it is kept.'),
  strength,
});

export const superResolutionBody: Schema = {
  type: 'object',
  properties: {
    key: keyField,
    url: imageField('The image to upscale.'),
    init_image: imageField('Same as `url`.'),
    scale: {
      type: ['integer', 'string'],
      maxLength: TEXT_MAX_CHARS.number,
      description: '2 or 4 (default 2).',
    },
    model_id: commonFields.model_id,
    base64: commonFields.base64,
    webhook: commonFields.webhook,
    track_id: commonFields.track_id,
  },
};

export const keyOnlyBody: Schema = {
  type: 'object',
  properties: { key: keyField },
};

export const jobIdParams: Schema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'The `id` from a `processing` answer.' } },
};

export const imageParams: Schema = {
  type: 'object',
  required: ['file'],
  properties: { file: { type: 'string', description: '`<image id>.png` from an `output` URL.' } },
};

export const clipParams: Schema = {
  type: 'object',
  required: ['file'],
  properties: {
    file: { type: 'string', description: '`<clip id>.mp4`, `.gif` or `.webp` from an `output` URL.' },
  },
};

export const jobImageParams: Schema = {
  type: 'object',
  required: ['id', 'file'],
  properties: {
    id: { type: 'string', description: 'The job `id`.' },
    file: { type: 'string', description: '`<n>.png`: the n-th image (from 0).' },
  },
};

/* Answers (documentation only: the server builds them in answers.ts). */

const meta: Schema = {
  type: 'object',
  description: 'The parameters the images were made with.',
  properties: {
    prompt: { type: 'string' },
    negative_prompt: { type: 'string' },
    model_id: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    samples: { type: 'integer' },
    num_inference_steps: { type: 'integer' },
    guidance_scale: { type: 'number' },
    scheduler: { type: 'string' },
    seed: { type: 'integer' },
    strength: { type: 'number' },
    scale: { type: 'integer' },
    provider: { type: 'string' },
    truncated_words: { type: 'array', items: { type: 'string' } },
  },
};

const warnings: Schema = {
  type: 'array',
  items: { type: 'string' },
  description:
    'Present when the request was accepted but will not come out as asked: e.g. a prompt with no word easel-mini can draw.',
};

export const successAnswer: Schema = {
  type: 'object',
  required: ['status', 'id', 'output'],
  properties: {
    status: { const: 'success' },
    id: { type: 'string' },
    output: {
      type: 'array',
      items: { type: 'string' },
      description: 'Image URLs (kept for IMAGE_RETENTION_HOURS), or base64 PNGs when `base64` was true.',
    },
    seed: { type: 'integer' },
    seeds: { type: 'array', items: { type: 'integer' } },
    generationTime: { type: 'number', description: 'Seconds the render took.' },
    nsfw_content_detected: { type: 'array', items: { type: 'boolean' } },
    track_id: { type: ['string', 'integer'] },
    warnings,
    meta,
  },
};

export const processingAnswer: Schema = {
  type: 'object',
  required: ['status', 'id', 'fetch_result'],
  properties: {
    status: { const: 'processing' },
    id: { type: 'string' },
    eta: { type: 'number', description: 'Estimated seconds until the result.' },
    position: { type: 'integer', description: 'Place in the queue (1 = next).' },
    fetch_result: { type: 'string', description: 'POST here (with your key) to get the result.' },
    track_id: { type: ['string', 'integer'] },
    warnings,
    meta,
  },
};

export const failedAnswer: Schema = {
  type: 'object',
  required: ['status', 'id', 'message'],
  properties: {
    status: { const: 'failed' },
    id: { type: 'string' },
    message: { type: 'string', description: 'Why it failed. Failed jobs are not charged.' },
    track_id: { type: ['string', 'integer'] },
  },
};

export const errorAnswer: Schema = {
  type: 'object',
  required: ['status', 'message'],
  properties: {
    status: { const: 'error' },
    message: { type: 'string' },
    tips: { type: 'string' },
    retry_after: { type: 'integer', description: 'Seconds to wait (429 only; also in Retry-After).' },
  },
};

export const validationAnswer: Schema = {
  type: 'object',
  required: ['status', 'message'],
  properties: {
    status: { const: 'error' },
    message: {
      type: 'object',
      additionalProperties: { type: 'array', items: { type: 'string' } },
      description: 'One entry per bad field, e.g. {"prompt": ["The prompt field is required."]}.',
    },
  },
};

export const systemLoadAnswer: Schema = {
  type: 'object',
  properties: {
    status: { const: 'success' },
    queue_num: { type: 'integer', description: 'Jobs waiting.' },
    active: { type: 'integer', description: 'Jobs rendering now.' },
    workers: {
      type: ['integer', 'null'],
      description: 'Render workers of this deployment alive now (null when they could not be read).',
    },
    avg_time: { type: 'number', description: 'Average seconds per job, recently.' },
    queue_time: { type: 'number', description: 'Estimated seconds until a new job is done.' },
    eta: { type: 'number', description: 'Same as queue_time.' },
    webhooks_pending: { type: 'integer', description: 'Webhook calls not yet delivered.' },
  },
};

const addOnItems = (what: string): Schema => ({
  type: 'array',
  description: what,
  items: {
    type: 'object',
    properties: {
      name: {
        type: 'string',
        description: 'What a request names: `<lora:name:0.8>`, `lora_model`, a word of the prompt.',
      },
      file: { type: 'string' },
      size_bytes: { type: 'integer' },
      family: { type: 'string', description: 'The family it looks trained for: sd1, sd2, sdxl or unknown.' },
      vectors: { type: 'integer', description: 'Embeddings: tokens it stands for.' },
      problem: { type: 'string', description: 'Why its file cannot be used, when it cannot.' },
    },
  },
});

export const modelsAnswer: Schema = {
  type: 'object',
  properties: {
    status: { const: 'success' },
    loras: addOnItems('LoRAs installed in MODELS_DIR/loras.'),
    embeddings: addOnItems('Textual-inversion embeddings installed in MODELS_DIR/embeddings.'),
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          model_id: { type: 'string' },
          aliases: { type: 'array', items: { type: 'string' } },
          description: { type: 'string' },
          kind: { type: 'string' },
          family: { type: 'string', description: 'sd1, sd2, sdxl, sd3, upscaler or unknown.' },
          native_resolution: { type: 'integer' },
          installed: { type: 'boolean', description: 'Whether a request can use it on this server now.' },
          state: { type: 'string', enum: ['installed', 'not installed', 'incomplete'] },
          default: { type: 'boolean', description: 'The model a request that names none gets.' },
          install: {
            type: 'string',
            description: 'The operator command that installs it (when not installed).',
          },
        },
      },
    },
  },
};
