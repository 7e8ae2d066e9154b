import type { FastifyRequest } from 'fastify';
import { listModels } from '../models/model-listing.ts';
import type { JobView } from '../queue/job-view.ts';
import { answerFor } from './answers.ts';
import { ApiError } from './api-error.ts';
import * as schemas from './route-schemas.ts';
import type { RouteContext } from './server.ts';

/**
 * Reading results and the server's state: POST /v1/fetch/{id} (the hosted APIs' verb) and its GET
 * twin /v1/jobs/{id}, GET /v1/system_load, GET /v1/models.
 */

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

export function registerJobRoutes(ctx: RouteContext): void {
  const jobAnswer = async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    const view = await ownJob(ctx, request, id);
    return answerFor(view, {
      baseUrl: ctx.baseUrl(),
      artifacts: ctx.services.artifacts,
      registry: ctx.services.registry,
    });
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
      const load = await ctx.services.systemLoad();
      return {
        status: 'success',
        queue_num: load.generate.waiting + load.generate.delayed,
        active: load.generate.active,
        workers: load.workersOnline ?? null,
        // Milliseconds matter here: a small model renders in well under a tenth of a second.
        avg_time: Math.round((load.averageProcessingSeconds ?? 0) * 1000) / 1000,
        queue_time: round1(load.etaSecondsForNewJob),
        eta: round1(load.etaSecondsForNewJob),
        webhooks_pending: load.deliver.waiting + load.deliver.delayed + load.deliver.active,
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
      models: listModels(ctx.services.registry, ctx.config.MODELS_DIR, ctx.config.DEFAULT_MODEL).map((m) => ({
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

function round1(n: number | undefined): number {
  return Math.round((n ?? 0) * 10) / 10;
}

/** The job, when it belongs to the calling key; anyone else's job is "not found", not "forbidden". */
async function ownJob(ctx: RouteContext, request: FastifyRequest, id: string): Promise<JobView> {
  const view = id.length <= 200 ? await ctx.services.jobs.get(id) : undefined;
  const origin = view?.data.origin;
  if (!view || origin?.platform !== 'api' || origin.keyId !== request.apiKey?.id) {
    throw ApiError.of(
      404,
      'Job not found',
      `No job "${id.slice(0, 80)}" for this key. Use the id of an answer.`,
    );
  }
  return view;
}
