import type { FastifyReply, FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { fromHostedApiBody } from '../../request/hosted-api-body.ts';
import { dropNeutralFields, readFlag } from '../../request/lenient-values.ts';
import { PROMPT_MAX_CHARS } from '../../request/limits.ts';
import { isAbsent } from '../../request/raw-request.ts';
import type { Face, FaceContext } from '../operations/face.ts';
import { generateFinished } from '../operations/generate.ts';
import { bodyOf, schemaErrors } from '../operations/request-body.ts';
import { TEXT_MAX_CHARS } from '../text-limits.ts';

/**
 * segmind's Stable Diffusion 2.1 (`POST /v1/sd2.1-txt2img`, key in `x-api-key`). The answer waits for
 * the render and is the image itself (JPEG, as segmind sends it), or `{image: <base64>}` JSON when
 * `base64` is true. Errors carry segmind's status codes (400 bad field, 401, 403, 404, 406 not enough
 * credits, 429, 500, 504 the render did not finish in time) and `{error: message}`.
 */

const numberLike = (description: string) => ({
  type: ['number', 'string'],
  maxLength: TEXT_MAX_CHARS.number,
  description,
});

const body = {
  type: 'object',
  required: ['prompt'],
  properties: {
    prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'Prompt to render.' },
    negative_prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'Prompts to exclude.' },
    samples: numberLike('Images, 1-10.'),
    scheduler: {
      type: 'string',
      maxLength: TEXT_MAX_CHARS.scheduler,
      description: 'segmind’s names: DDIM, DPM Multi, DPM Single, Euler a, Euler, Heun, LMS, UniPC, PNDM, …',
    },
    num_inference_steps: numberLike('Denoising steps.'),
    guidance_scale: numberLike('Classifier-free guidance.'),
    strength: numberLike('Only for images; 1 (segmind’s example) is ignored on text to image.'),
    seed: numberLike('Any whole number up to 2^53 (17123564234 works); 0 or -1: random.'),
    img_width: numberLike('Width in pixels.'),
    img_height: numberLike('Height in pixels.'),
    base64: {
      type: ['boolean', 'string'],
      maxLength: TEXT_MAX_CHARS.flag,
      description: 'true: JSON `{image: <base64>}` instead of the image bytes.',
    },
  },
};

/** segmind's code for each of easel's refusals. */
const STATUS: Record<number, number> = { 422: 400, 402: 406, 413: 400, 415: 400 };

export const segmindFace: Face = {
  name: 'segmind',
  title: 'segmind Stable Diffusion 2.1 API',
  renderError: (problem) => ({
    statusCode: STATUS[problem.statusCode] ?? problem.statusCode,
    body: {
      error:
        problem.fields?.map((f) => f.message).join(' ') ||
        [problem.message, problem.tips].filter(Boolean).join(': '),
    },
  }),
  register(ctx) {
    ctx.route(
      {
        method: 'POST',
        url: '/v1/sd2.1-txt2img',
        summary: 'segmind SD 2.1 text to image',
        auth: true,
        body,
        responses: {
          200: {
            description: 'The image (JPEG), or `{image}` with base64 when `base64` is true.',
            contentType: 'image/jpeg',
            schema: { type: 'string', format: 'binary' },
          },
          400: { description: 'A bad field, named.' },
          401: { description: 'The x-api-key is missing or wrong.' },
          406: { description: 'Not enough credits.' },
          429: { description: 'Rate limited; see Retry-After.' },
          504: { description: 'The render did not finish in time (not charged).' },
        },
      },
      (request, reply) => textToImage(ctx, request, reply),
    );
  },
};

async function textToImage(ctx: FaceContext, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const fields = bodyOf(request);
  const raw = fromHostedApiBody(fields);
  // segmind's "random" seed is -1.
  if (String(fields.seed).trim() === '-1') delete raw.seed;
  dropNeutralFields(raw, 'txt2img');
  if (isAbsent(raw.count)) raw.count = 1;
  const outcome = await generateFinished(ctx, {
    request,
    mode: 'txt2img',
    raw,
    images: [],
    errors: schemaErrors(request),
    body: fields,
  });
  if (outcome.status === 'failed') return reply.code(500).send({ error: outcome.message });
  const images = await Promise.all(
    outcome.result.images.map(async (image) => {
      const stored = await ctx.services.artifacts.get(image.artifactId);
      if (!stored) throw new Error(`image ${image.artifactId} of a finished job is not stored`);
      return sharp(stored.bytes).jpeg({ quality: 95 }).toBuffer();
    }),
  );
  if (readFlag(fields.base64) === true) {
    const encoded = images.map((i) => i.toString('base64'));
    return reply.send({ image: encoded[0], ...(encoded.length > 1 ? { images: encoded } : {}) });
  }
  return reply.type('image/jpeg').header('x-easel-seed', String(outcome.result.seed)).send(images[0]);
}
