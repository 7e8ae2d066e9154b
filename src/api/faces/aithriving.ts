import type { FastifyRequest } from 'fastify';
import { fromHostedApiBody } from '../../request/hosted-api-body.ts';
import { dropNeutralFields } from '../../request/lenient-values.ts';
import { PROMPT_MAX_CHARS } from '../../request/limits.ts';
import type { Face, FaceContext } from '../operations/face.ts';
import { generateFinished } from '../operations/generate.ts';
import { bodyOf, schemaErrors } from '../operations/request-body.ts';
import { TEXT_MAX_CHARS } from '../text-limits.ts';

/**
 * aithriving's Stable Diffusion 3 text to image (its documentation spells the path both
 * `/api/generate/sdv3/textToImage` and `/api/generate/sd3/textToImage`; both are served). The key is
 * the bare `Authorization` header. The answer waits for the render: `{code: 0, message: "success",
 * data: {image: <base64 PNG>, seed}}`; any failure is `{code: -1, message}` and is never charged.
 */

const MODELS = ['sd3-large', 'sd3-large-turbo', 'sd3-medium'];

const body = {
  type: 'object',
  required: ['prompt'],
  properties: {
    prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'What to draw.' },
    negative_prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'What not to draw.' },
    width: {
      type: ['integer', 'string'],
      maxLength: TEXT_MAX_CHARS.number,
      description: '320-1536 in steps of 64.',
    },
    height: {
      type: ['integer', 'string'],
      maxLength: TEXT_MAX_CHARS.number,
      description: '320-1536 in steps of 64.',
    },
    model: {
      type: 'string',
      maxLength: TEXT_MAX_CHARS.model,
      description: `${MODELS.join(', ')}: looked up among the server's model ids and aliases (default: the server's default model).`,
    },
    aspect_ratio: {
      type: 'string',
      maxLength: TEXT_MAX_CHARS.aspectRatio,
      description: 'Ignored when width and height agree with it; otherwise instead of them.',
    },
    seed: {
      type: ['integer', 'string'],
      maxLength: TEXT_MAX_CHARS.number,
      description: 'Random noise seed (0 or absent: random).',
    },
  },
};

const answer = {
  type: 'object',
  properties: {
    code: { type: 'integer', description: '0 success, -1 failure.' },
    message: { type: 'string' },
    data: {
      type: 'object',
      properties: { image: { type: 'string', description: 'Base64 PNG.' }, seed: { type: 'integer' } },
    },
  },
};

export const aithrivingFace: Face = {
  name: 'aithriving',
  title: 'aithriving Stable Diffusion 3 API',
  renderError: (problem) => ({
    body: {
      code: -1,
      message:
        problem.fields?.map((f) => f.message).join(' ') ||
        [problem.message, problem.tips].filter(Boolean).join(': '),
    },
  }),
  register(ctx) {
    for (const url of ['/api/generate/sdv3/textToImage', '/api/generate/sd3/textToImage']) {
      ctx.route(
        {
          method: 'POST',
          url,
          summary: 'aithriving SD3 text to image',
          auth: true,
          body,
          responses: {
            200: { description: '`code` 0 with the image, waiting for the render.', schema: answer },
            401: { description: '`code` -1: the key is missing or wrong.', schema: answer },
            422: { description: '`code` -1: a bad field, named.', schema: answer },
            504: {
              description: '`code` -1: the render did not finish in time (not charged).',
              schema: answer,
            },
          },
        },
        (request) => textToImage(ctx, request),
      );
    }
  },
};

async function textToImage(ctx: FaceContext, request: FastifyRequest): Promise<unknown> {
  const fields = bodyOf(request);
  const raw = fromHostedApiBody(fields);
  dropNeutralFields(raw, 'txt2img');
  // One image an answer: aithriving has no `samples`.
  raw.count = 1;
  const outcome = await generateFinished(ctx, {
    request,
    mode: 'txt2img',
    raw,
    images: [],
    errors: schemaErrors(request),
    body: fields,
  });
  if (outcome.status === 'failed') return { code: -1, message: outcome.message };
  const image = outcome.result.images[0]!;
  const stored = await ctx.services.artifacts.get(image.artifactId);
  if (!stored) return { code: -1, message: 'The image is no longer stored; render it again.' };
  return { code: 0, message: 'success', data: { image: stored.bytes.toString('base64'), seed: image.seed } };
}
