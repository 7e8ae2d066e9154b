import type { FastifyRequest } from 'fastify';
import { findModel } from '../../models/registry.ts';
import { fromHostedApiBody } from '../../request/hosted-api-body.ts';
import { dropNeutralFields, readFlag } from '../../request/lenient-values.ts';
import { PROMPT_MAX_CHARS } from '../../request/limits.ts';
import { isAbsent } from '../../request/raw-request.ts';
import { imageUrl } from '../answers.ts';
import { futureImageUrls } from '../image-routes.ts';
import type { Face, FaceContext } from '../operations/face.ts';
import { fetchJob } from '../operations/fetch-job.ts';
import { generate } from '../operations/generate.ts';
import type { JobOutcome } from '../operations/job-outcome.ts';
import { bodyOf, schemaErrors } from '../operations/request-body.ts';
import * as schemas from '../route-schemas.ts';
import { TEXT_MAX_CHARS } from '../text-limits.ts';

/**
 * imagepipeline's Stable Diffusion 3 (`POST /sd3/v1`, key in `API-Key`). Answers `status: SUCCESS`
 * with `download_urls`, `PENDING` with the `id` to poll at `GET /sd3/v1/status/{id}`, or `FAILURE`
 * with `error`. Sizes default to 1024 as imagepipeline documents; the model is the server's `sd3`
 * (an alias in the registry) when it has one, else its default.
 */

const PREFERRED_MODELS = ['sd3', 'sd3-medium', 'sd3-large'];
const DEFAULT_SIDE = 1024;
const MAX_SAMPLES = 4;
const MAX_GUIDANCE = 20;

const numberLike = (description: string) => ({
  type: ['number', 'string'],
  maxLength: TEXT_MAX_CHARS.number,
  description,
});

const body = {
  type: 'object',
  required: ['prompt'],
  properties: {
    prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'What to draw.' },
    negative_prompt: { type: 'string', maxLength: PROMPT_MAX_CHARS, description: 'What not to draw.' },
    num_inference_steps: numberLike('Denoising steps.'),
    samples: numberLike(`Images, 1-${MAX_SAMPLES}.`),
    guidance_scale: numberLike(`Guidance, at most ${MAX_GUIDANCE}.`),
    width: numberLike(`Default ${DEFAULT_SIDE}.`),
    height: numberLike(`Default ${DEFAULT_SIDE}.`),
    seed: numberLike('0 or absent: random.'),
    webhook: {
      type: 'string',
      maxLength: TEXT_MAX_CHARS.webhook,
      description: 'Receives the result (signed).',
    },
    direct_link: {
      type: ['boolean', 'string'],
      maxLength: TEXT_MAX_CHARS.flag,
      description: 'Accepted: links are PNGs.',
    },
    batch_id: { type: ['string', 'integer'], maxLength: TEXT_MAX_CHARS.trackId, description: 'Echoed back.' },
    file_prefix: { type: 'string', maxLength: TEXT_MAX_CHARS.trackId, description: 'Echoed back.' },
    queued_image_urls: {
      type: ['boolean', 'string'],
      maxLength: TEXT_MAX_CHARS.flag,
      description:
        'true: a PENDING answer carries `download_urls` at once; each holds its image once rendered.',
    },
  },
};

const answer = {
  type: 'object',
  properties: {
    status: { enum: ['SUCCESS', 'PENDING', 'FAILURE'] },
    id: { type: 'string' },
    download_urls: { type: 'array', items: { type: 'string' } },
    error: { type: 'string' },
  },
};

const RESPONSES = {
  200: { description: '`SUCCESS` with `download_urls`, `PENDING` with `id`, or `FAILURE`.', schema: answer },
  401: { description: '`FAILURE`: the API-Key is missing or wrong.', schema: answer },
  422: { description: '`FAILURE`: a bad field, named.', schema: answer },
  429: { description: '`FAILURE`: rate limited; see Retry-After.', schema: answer },
};

export const imagepipelineFace: Face = {
  name: 'imagepipeline',
  title: 'imagepipeline Stable Diffusion 3 API',
  renderError: (problem) => ({
    body: {
      status: 'FAILURE',
      error:
        problem.fields?.map((f) => f.message).join(' ') ||
        [problem.message, problem.tips].filter(Boolean).join(': '),
    },
  }),
  register(ctx) {
    ctx.route(
      {
        method: 'POST',
        url: '/sd3/v1',
        summary: 'imagepipeline SD3 text to image',
        auth: true,
        body,
        responses: RESPONSES,
      },
      (request) => textToImage(ctx, request),
    );
    ctx.route(
      {
        method: 'GET',
        url: '/sd3/v1/status/:id',
        summary: 'imagepipeline SD3 status',
        auth: true,
        params: schemas.jobIdParams,
        responses: RESPONSES,
      },
      async (request) => {
        const { id } = request.params as { id: string };
        return pipelineAnswer(ctx, await fetchJob(ctx, request.apiKey, id));
      },
    );
  },
};

async function textToImage(ctx: FaceContext, request: FastifyRequest): Promise<unknown> {
  const fields = bodyOf(request);
  const errors = schemaErrors(request);
  const raw = fromHostedApiBody(fields);
  dropNeutralFields(raw, 'txt2img');
  if (isAbsent(raw.width) && isAbsent(raw.height) && isAbsent(raw.aspect)) {
    raw.width = DEFAULT_SIDE;
    raw.height = DEFAULT_SIDE;
  }
  if (isAbsent(raw.model)) {
    const preferred = PREFERRED_MODELS.map((id) => findModel(ctx.services.registry, id)).find(Boolean);
    if (preferred) raw.model = preferred.id;
  }
  const outcome = await generate(ctx, {
    request,
    mode: 'txt2img',
    raw,
    images: [],
    errors,
    origin: { webhook: fields.webhook, trackId: fields.batch_id },
    body: fields,
    maxCount: MAX_SAMPLES,
  });
  const echo: Record<string, unknown> = {};
  if (!isAbsent(fields.batch_id)) echo.batch_id = fields.batch_id;
  if (!isAbsent(fields.file_prefix)) echo.file_prefix = fields.file_prefix;
  if (!isAbsent(fields.direct_link)) echo.direct_link = readFlag(fields.direct_link) === true;
  const answer = pipelineAnswer(ctx, outcome);
  if (outcome.status === 'processing' && readFlag(fields.queued_image_urls) === true) {
    // The links are known at once; each answers 404 "Image not ready" until the render is done.
    answer.download_urls = futureImageUrls(ctx.baseUrl(), outcome.jobId, outcome.data.request.count);
  }
  return { ...answer, ...echo };
}

function pipelineAnswer(ctx: FaceContext, outcome: JobOutcome): Record<string, unknown> {
  switch (outcome.status) {
    case 'success':
      return {
        status: 'SUCCESS',
        id: outcome.jobId,
        download_urls: outcome.result.images.map((i) => imageUrl(ctx.baseUrl(), i.artifactId)),
        seed: outcome.result.seed,
      };
    case 'processing':
      return {
        status: 'PENDING',
        id: outcome.jobId,
        ...(outcome.etaSeconds !== undefined ? { eta: Math.max(1, Math.round(outcome.etaSeconds)) } : {}),
      };
    case 'failed':
      return { status: 'FAILURE', id: outcome.jobId, error: outcome.message };
  }
}
