import type { FastifyRequest } from 'fastify';
import { readFlag } from '../../request/lenient-values.ts';
import { answerForOutcome } from '../answers.ts';
import type { ApiProblem } from '../api-error.ts';
import { futureClipUrl, futureImageUrls } from '../image-routes.ts';
import type { RouteDoc } from '../openapi.ts';
import type { Face, FaceContext } from '../operations/face.ts';
import { fetchJob } from '../operations/fetch-job.ts';
import type { JobOutcome } from '../operations/job-outcome.ts';
import { systemLoad } from '../operations/system-load.ts';
import * as schemas from '../route-schemas.ts';
import { TEXT_MAX_CHARS } from '../text-limits.ts';
import { HOSTED_MODES, type HostedMode, hostedGenerate, type UnsupportedField } from './hosted-generation.ts';

/**
 * modelslab's Stable Diffusion API (stablediffusionapi.com), in its three generations: v3
 * (`/api/v3/text2img`, …), v4 "dreambooth" (`/api/v4/dreambooth`, …, with a `model_id`) and v6
 * (`/api/v6/images/text2img`, …). The key goes in the body (`key`) as modelslab's clients send it, or in
 * any header easel reads. Answers are modelslab's `{status, id, output, generationTime, meta, eta,
 * fetch_result, future_links}`; errors are `{status: "error", message, tip | tips}`, validation
 * `{status: "error", message: {field: [messages]}}`.
 */

const flagField = (description: string) => ({
  type: ['boolean', 'string'],
  maxLength: TEXT_MAX_CHARS.flag,
  description,
});
const textField = (description: string) => ({ type: 'string', maxLength: TEXT_MAX_CHARS.model, description });
const numberField = (description: string) => ({
  type: ['number', 'string'],
  maxLength: TEXT_MAX_CHARS.number,
  description,
});

/** v4/v6 fields beyond v3's, documented here; the ones easel cannot honour yet are refused by name. */
const DREAMBOOTH_FIELDS: Record<string, Record<string, unknown>> = {
  lora_model: textField('LoRAs installed in MODELS_DIR/loras, by name, separated by commas.'),
  lora_strength: numberField('One strength for every LoRA, or one each separated by commas (default 1).'),
  embeddings_model: textField(
    'Textual-inversion embeddings from MODELS_DIR/embeddings, separated by commas.',
  ),
  clip_skip: numberField('1 (the last layer, the default) to 12; SD 1.x and 2.x models.'),
  use_karras_sigmas: flagField('Ignored: pick a Karras sampler by name instead ("DPM++ 2M Karras").'),
  tomesd: flagField('Ignored (a speed setting).'),
  safety_checker: flagField('Ignored: the operator’s NSFW policy applies.'),
  enhance_prompt: flagField('Ignored: the prompt is used as written.'),
  multi_lingual: flagField('Ignored.'),
  self_attention: flagField('Ignored.'),
  panorama: flagField('Not supported: refused when "yes".'),
  upscale: flagField('Not supported in the same call: refused unless "no"; use super_resolution.'),
  vae: textField('Not supported: refused unless empty.'),
};

const withDreambooth = (body: Record<string, unknown>): Record<string, unknown> => ({
  ...body,
  properties: { ...(body.properties as Record<string, unknown>), ...DREAMBOOTH_FIELDS },
});

const notYes = (value: unknown) => readFlag(value) === false;

/** Features a modelslab body may ask for that easel does not have yet. */
const UNSUPPORTED: UnsupportedField[] = [
  { field: 'vae', neutral: () => false, why: 'a separate VAE is not supported; leave vae out.' },
  {
    field: 'panorama',
    neutral: notYes,
    why: 'panoramas are not supported; leave panorama out (or "no").',
  },
  {
    field: 'upscale',
    neutral: notYes,
    why: 'upscaling in the same call is not supported; send the result to super_resolution.',
  },
];

const ANSWERS: RouteDoc['responses'] = {
  200: {
    description: '`success` with `output` URLs, `processing` with `fetch_result` and `eta`, or `failed`.',
    schema: { oneOf: [schemas.successAnswer, schemas.processingAnswer, schemas.failedAnswer] },
  },
  401: { description: '`Invalid Api Key` with a `tip`.', schema: schemas.errorAnswer },
  402: { description: 'Not enough credits.', schema: schemas.errorAnswer },
  404: { description: '`Model id not found`.', schema: schemas.errorAnswer },
  422: {
    description: '`{"prompt": ["The prompt field is required."]}`, one entry per field.',
    schema: schemas.validationAnswer,
  },
  429: { description: '`Rate limit exceeded` with `tips` and Retry-After.', schema: schemas.errorAnswer },
  500: { description: '`Failed, Try Again`.', schema: schemas.errorAnswer },
};

interface Family {
  /** Where its fetch lives, e.g. /api/v3/fetch. */
  fetchPath: string;
  routes: { url: string; hosted: HostedMode; summary: string }[];
  dreambooth: boolean;
}

const FAMILIES: Family[] = [
  {
    fetchPath: '/api/v3/fetch',
    dreambooth: false,
    routes: [
      { url: '/api/v3/text2img', hosted: HOSTED_MODES.txt2img, summary: 'modelslab v3 text to image' },
      { url: '/api/v3/img2img', hosted: HOSTED_MODES.img2img, summary: 'modelslab v3 image to image' },
      { url: '/api/v3/inpaint', hosted: HOSTED_MODES.inpaint, summary: 'modelslab v3 inpainting' },
      {
        url: '/api/v3/super_resolution',
        hosted: HOSTED_MODES.upscale,
        summary: 'modelslab v3 super resolution',
      },
    ],
  },
  {
    fetchPath: '/api/v4/dreambooth/fetch',
    dreambooth: true,
    routes: [
      { url: '/api/v4/dreambooth', hosted: HOSTED_MODES.txt2img, summary: 'modelslab v4 text to image' },
      {
        url: '/api/v4/dreambooth/img2img',
        hosted: HOSTED_MODES.img2img,
        summary: 'modelslab v4 image to image',
      },
      { url: '/api/v4/dreambooth/inpaint', hosted: HOSTED_MODES.inpaint, summary: 'modelslab v4 inpainting' },
    ],
  },
  {
    fetchPath: '/api/v6/video/fetch',
    dreambooth: false,
    routes: [
      {
        url: '/api/v6/video/text2video',
        hosted: HOSTED_MODES.txt2video,
        summary: 'modelslab v6 text to video',
      },
    ],
  },
  {
    fetchPath: '/api/v6/images/fetch',
    dreambooth: true,
    routes: [
      { url: '/api/v6/images/text2img', hosted: HOSTED_MODES.txt2img, summary: 'modelslab v6 text to image' },
      { url: '/api/v6/images/img2img', hosted: HOSTED_MODES.img2img, summary: 'modelslab v6 image to image' },
      { url: '/api/v6/images/inpaint', hosted: HOSTED_MODES.inpaint, summary: 'modelslab v6 inpainting' },
      {
        url: '/api/v6/image_editing/super_resolution',
        hosted: HOSTED_MODES.upscale,
        summary: 'modelslab v6 super resolution',
      },
    ],
  },
];

const MODEL_NOT_FOUND = /Model id not found/;

/** seed 000's shapes: "Invalid Api Key" with `tip`, "Rate limit exceeded" with `tips`, "Failed, Try Again". */
export function modelslabError(problem: ApiProblem): { statusCode?: number; body: Record<string, unknown> } {
  const { fields, tips } = problem;
  if (fields && fields.length > 0) {
    const model = fields.find((f) => MODEL_NOT_FOUND.test(f.message));
    if (model && fields.every((f) => f.field === model.field)) {
      return {
        statusCode: 404,
        body: { status: 'error', message: 'Model id not found', tips: model.message },
      };
    }
    const message: Record<string, string[]> = {};
    for (const { field, message: text } of fields) message[field] = [...(message[field] ?? []), text];
    return { body: { status: 'error', message } };
  }
  if (problem.statusCode === 401) return { body: { status: 'error', message: 'Invalid Api Key', tip: tips } };
  if (problem.statusCode === 429) {
    return {
      body: {
        status: 'error',
        message: 'Rate limit exceeded',
        tips: tips ?? problem.message,
        retry_after: problem.retryAfter,
      },
    };
  }
  if (problem.statusCode >= 500) {
    return { body: { status: 'error', message: 'Failed, Try Again', tips: tips ?? problem.message } };
  }
  return { body: { status: 'error', message: problem.message, ...(tips ? { tips } : {}) } };
}

export const modelslabFace: Face = {
  name: 'modelslab',
  title: 'modelslab Stable Diffusion API (v3, v4 dreambooth, v6 images)',
  renderError: (problem) => modelslabError(problem),
  register(ctx) {
    for (const family of FAMILIES) {
      for (const { url, hosted, summary } of family.routes) {
        ctx.route(
          {
            method: 'POST',
            url,
            summary,
            auth: true,
            body: family.dreambooth ? withDreambooth(hosted.body) : hosted.body,
            responses: ANSWERS,
          },
          async (request, reply) => {
            const outcome = await hostedGenerate(ctx, hosted, request, UNSUPPORTED);
            return reply.send(await modelslabAnswer(ctx, outcome, family.fetchPath));
          },
        );
      }
      ctx.route(
        {
          method: 'POST',
          url: `${family.fetchPath}/:id`,
          summary: `modelslab fetch (${family.fetchPath})`,
          auth: true,
          params: schemas.jobIdParams,
          body: schemas.keyOnlyBody,
          responses: ANSWERS,
        },
        async (request: FastifyRequest) => {
          const { id } = request.params as { id: string };
          return modelslabAnswer(ctx, await fetchJob(ctx, request.apiKey, id), family.fetchPath);
        },
      );
    }
    ctx.route(
      {
        method: 'POST',
        url: '/api/v3/system_load',
        summary: 'modelslab system load',
        auth: false,
        body: schemas.keyOnlyBody,
        responses: { 200: { description: 'The load now.', schema: schemas.systemLoadAnswer } },
      },
      async () => {
        const load = await systemLoad(ctx);
        return {
          status: 'success',
          queue_num: load.queued,
          queue_time: Math.round(load.etaSeconds * 10) / 10,
          avg_time: Math.round(load.averageSeconds * 1000) / 1000,
          active: load.active,
          workers: load.workers,
        };
      },
    );
  },
};

async function modelslabAnswer(
  ctx: FaceContext,
  outcome: JobOutcome,
  fetchPath: string,
): Promise<Record<string, unknown>> {
  const answer = await answerForOutcome(outcome, {
    baseUrl: ctx.baseUrl(),
    artifacts: ctx.services.artifacts,
    registry: ctx.services.registry,
    fetchPath,
  });
  if (outcome.status !== 'processing') return answer;
  // Where the images (or the clip) will be: each link answers 404 "... not ready" until the render is done.
  const { request } = outcome.data;
  return {
    ...answer,
    future_links:
      request.video !== undefined
        ? [futureClipUrl(ctx.baseUrl(), outcome.jobId)]
        : futureImageUrls(ctx.baseUrl(), outcome.jobId, request.count),
  };
}
