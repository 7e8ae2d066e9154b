import type { FastifyRequest } from 'fastify';
import { type AddOnListing, listAddOns } from '../../engine/add-ons/add-on-listing.ts';
import { HOSTED_FIELD_NAMES } from '../../request/hosted-api-body.ts';
import { closestName, unknownFields } from '../../request/lenient-values.ts';
import { type Answer, answerForOutcome } from '../answers.ts';
import type { RouteDoc } from '../openapi.ts';
import type { Face, FaceContext } from '../operations/face.ts';
import { fetchJob } from '../operations/fetch-job.ts';
import type { JobOutcome } from '../operations/job-outcome.ts';
import { modelsNow } from '../operations/list-models.ts';
import { bodyOf } from '../operations/request-body.ts';
import { systemLoad } from '../operations/system-load.ts';
import * as schemas from '../route-schemas.ts';
import { HOSTED_MODES, type HostedMode, hostedGenerate } from './hosted-generation.ts';

/**
 * easel's own API, /v1: text2img, img2img, inpaint, super_resolution, fetch (and its GET twin
 * /v1/jobs), system_load, models. Its fields are the hosted APIs' names; unlike the hosted faces it
 * tells the client about fields it ignored (`warnings`), so a misspelled `sampels` is not silently
 * one image.
 */

const ANSWERS = (extra: RouteDoc['responses'] = {}): RouteDoc['responses'] => ({
  200: {
    description: '`success` with the images, `processing` (fetch later), or `failed` (not charged).',
    schema: { oneOf: [schemas.successAnswer, schemas.processingAnswer, schemas.failedAnswer] },
  },
  401: { description: 'Invalid Api Key.', schema: schemas.errorAnswer },
  402: {
    description: 'Not enough credits (or the key’s daily budget is spent).',
    schema: schemas.errorAnswer,
  },
  404: { description: 'Model id not found.', schema: schemas.errorAnswer },
  413: { description: 'Body larger than API_BODY_LIMIT_MB.', schema: schemas.errorAnswer },
  415: { description: 'The body is not JSON.', schema: schemas.errorAnswer },
  422: { description: 'Bad fields, one entry per field.', schema: schemas.validationAnswer },
  429: {
    description:
      'Rate limit exceeded (the key’s rate, a duplicate request, a cooldown or pending cap set on the key); see retry_after.',
    schema: schemas.errorAnswer,
  },
  ...extra,
});

const ENDPOINTS: { url: string; summary: string; description?: string; hosted: HostedMode }[] = [
  { url: '/v1/text2img', summary: 'Text to image', hosted: HOSTED_MODES.txt2img },
  { url: '/v1/img2img', summary: 'Image to image', hosted: HOSTED_MODES.img2img },
  {
    url: '/v1/inpaint',
    summary: 'Inpainting and outpainting',
    description:
      'Repaints the white part of `mask_image`. For outpainting, send the image placed on a larger canvas ' +
      'and a mask that is white around it.',
    hosted: HOSTED_MODES.inpaint,
  },
  { url: '/v1/super_resolution', summary: 'Upscale an image 2x or 4x', hosted: HOSTED_MODES.upscale },
  {
    url: '/v1/text2video',
    summary: 'Text to a short clip',
    description:
      'A clip of `num_frames` frames drawn with the image model: a seed walk, a prompt morph (`morph_to`) or a ' +
      'drift. `output` links the `output_type` file; `video.files` every format made. Costs one image per frame.',
    hosted: HOSTED_MODES.txt2video,
  },
];

const JOB_ANSWERS = {
  200: {
    description: '`success`, `processing` or `failed`, as the generation endpoints answer.',
    schema: { oneOf: [schemas.successAnswer, schemas.processingAnswer, schemas.failedAnswer] },
  },
  401: { description: 'Invalid Api Key.', schema: schemas.errorAnswer },
  404: {
    description: 'No such job for this key (or its images are past retention).',
    schema: schemas.errorAnswer,
  },
};

export const easelFace: Face = {
  name: 'easel',
  title: 'easel /v1 (the hosted Stable Diffusion APIs’ fields, with warnings)',
  // easel's own shape is the ApiError's body.
  renderError: (_problem, error) => ({ body: error.body }),
  register(ctx) {
    for (const { hosted, ...doc } of ENDPOINTS) {
      ctx.route(
        { method: 'POST', auth: true, body: hosted.body, responses: ANSWERS(), ...doc },
        async (request, reply) => {
          const outcome = await hostedGenerate(ctx, hosted, request);
          return reply.send(withFieldWarnings(await easelAnswer(ctx, outcome), bodyOf(request), hosted.body));
        },
      );
    }
    registerJobRoutes(ctx);
  },
};

function easelAnswer(ctx: FaceContext, outcome: JobOutcome): Promise<Answer> {
  return answerForOutcome(outcome, {
    baseUrl: ctx.baseUrl(),
    artifacts: ctx.services.artifacts,
    registry: ctx.services.registry,
  });
}

/** The answer, with a warning for each body field easel does not read (a misspelled `sampels`). */
function withFieldWarnings(answer: Answer, body: Record<string, unknown>, schema: RouteDoc['body']): Answer {
  const known = new Set([
    ...Object.keys((schema?.properties ?? {}) as Record<string, unknown>),
    ...HOSTED_FIELD_NAMES,
  ]);
  const unknown = unknownFields(body, known);
  if (unknown.length === 0) return answer;
  const notes = unknown.map((name) => {
    const meant = closestName(name, known);
    return `Unknown field "${name.slice(0, 64)}" was ignored${meant ? ` (did you mean "${meant}"?)` : ''}.`;
  });
  const earlier = Array.isArray(answer.warnings) ? (answer.warnings as string[]) : [];
  return { ...answer, warnings: [...earlier, ...notes] };
}

function registerJobRoutes(ctx: FaceContext): void {
  const jobAnswer = async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    return easelAnswer(ctx, await fetchJob(ctx, request.apiKey, id));
  };

  ctx.route(
    {
      method: 'POST',
      url: '/v1/fetch/:id',
      summary: 'Fetch a queued result',
      auth: true,
      params: schemas.jobIdParams,
      body: schemas.keyOnlyBody,
      responses: JOB_ANSWERS,
    },
    jobAnswer,
  );

  ctx.route(
    {
      method: 'GET',
      url: '/v1/jobs/:id',
      summary: 'A job and its result',
      auth: true,
      params: schemas.jobIdParams,
      responses: JOB_ANSWERS,
    },
    jobAnswer,
  );

  ctx.route(
    {
      method: 'GET',
      url: '/v1/system_load',
      summary: 'Queue depth, workers, average time and ETA',
      auth: false,
      responses: { 200: { description: 'The load now.', schema: schemas.systemLoadAnswer } },
    },
    async () => {
      const load = await systemLoad(ctx);
      return {
        status: 'success',
        queue_num: load.queued,
        active: load.active,
        workers: load.workers,
        // Milliseconds matter here: a small model renders in well under a tenth of a second.
        avg_time: Math.round(load.averageSeconds * 1000) / 1000,
        queue_time: round1(load.etaSeconds),
        eta: round1(load.etaSeconds),
        webhooks_pending: load.webhooksPending,
      };
    },
  );

  ctx.route(
    {
      method: 'GET',
      url: '/v1/models',
      summary: 'The models this server knows',
      auth: false,
      responses: {
        200: {
          description:
            'Every model this server knows: installed or not, the default, how to install the rest.',
          schema: schemas.modelsAnswer,
        },
      },
    },
    async () => ({
      status: 'success',
      ...(await addOnsNow(ctx)),
      models: modelsNow(ctx).map((m) => ({
        model_id: m.id,
        aliases: m.aliases,
        description: m.description,
        kind: m.kind,
        family: m.family,
        native_resolution: m.nativeResolution,
        installed: m.installed,
        state: m.state,
        default: m.default,
        ...(m.install !== undefined ? { install: m.install } : {}),
      })),
    }),
  );
}

/** MODELS_DIR's LoRAs and embeddings under the REST API's field names. */
async function addOnsNow(ctx: FaceContext): Promise<{ loras: unknown[]; embeddings: unknown[] }> {
  const { loras, embeddings } = await listAddOns(ctx.config.MODELS_DIR);
  const shown = (a: AddOnListing) => ({
    name: a.name,
    file: a.file,
    size_bytes: a.bytes,
    family: a.family ?? 'unknown',
    ...(a.vectors !== undefined ? { vectors: a.vectors } : {}),
    ...(a.problem !== undefined ? { problem: a.problem } : {}),
  });
  return { loras: loras.map(shown), embeddings: embeddings.map(shown) };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
