import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { jobIdFor } from '../admission/job-id.ts';
import type { FieldError } from '../errors/user-error.ts';
import type { MemberRef } from '../members/member-ref.ts';
import type { ApiOrigin } from '../queue/job-data.ts';
import { defaultModelId } from '../request/default-model.ts';
import { fromHostedApiBody } from '../request/hosted-api-body.ts';
import { UPSCALE_INPUT_MAX, UPSCALE_INPUT_MIN } from '../request/limits.ts';
import { maskSizeProblem, upscaleOutputProblem } from '../request/output-size.ts';
import { emptyRawRequest, isAbsent } from '../request/raw-request.ts';
import type { GenerationMode, GenerationRequest } from '../request/types.ts';
import { invalidRequestError, validateRequest } from '../request/validate-request.ts';
import { answerFor, processingAnswer } from './answers.ts';
import { ApiError, fromRefusal, fromUserError } from './api-error.ts';
import { bodyFingerprint, idempotentRequestId, readIdempotencyKey } from './idempotency-key.ts';
import { type DecodedImage, readImageInput } from './image-input.ts';
import { apiKeyScope } from './key-store.ts';
import { heldValue } from './large-body-values.ts';
import type { RouteDoc } from './openapi.ts';
import * as schemas from './route-schemas.ts';
import { parseOutboundUrl, resolveAllowed, SafeFetchError } from './safe-fetch.ts';
import { fieldErrorsFromSchema, type SchemaViolation } from './schema-errors.ts';
import type { RouteContext } from './server.ts';

/**
 * POST /v1/text2img, /v1/img2img, /v1/inpaint, /v1/super_resolution. One path for all four: check the
 * body (schema, then the shared validator, every bad field at once), fetch and store the images,
 * admit (credits, cooldown, duplicate filter, queue), then wait up to API_SYNC_WAIT_MS for the
 * result. Nothing is left behind by a refusal: stored input images are deleted again.
 */

type Body = Record<string, unknown>;

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
    description: 'Rate limit exceeded (duplicate request, cooldown, too many pending jobs); see retry_after.',
    schema: schemas.errorAnswer,
  },
  ...extra,
});

interface Endpoint {
  doc: RouteDoc;
  mode: GenerationMode;
  /** Body fields holding images, in the order they are read. */
  images: { field: string; raw: 'initImage' | 'maskImage' }[];
}

const ENDPOINTS: Endpoint[] = [
  {
    mode: 'txt2img',
    images: [],
    doc: {
      method: 'POST',
      url: '/v1/text2img',
      summary: 'Text to image',
      auth: true,
      body: schemas.text2imgBody,
      responses: ANSWERS(),
    },
  },
  {
    mode: 'img2img',
    images: [{ field: 'init_image', raw: 'initImage' }],
    doc: {
      method: 'POST',
      url: '/v1/img2img',
      summary: 'Image to image',
      auth: true,
      body: schemas.img2imgBody,
      responses: ANSWERS(),
    },
  },
  {
    mode: 'inpaint',
    images: [
      { field: 'init_image', raw: 'initImage' },
      { field: 'mask_image', raw: 'maskImage' },
    ],
    doc: {
      method: 'POST',
      url: '/v1/inpaint',
      summary: 'Inpainting and outpainting',
      description:
        'Repaints the white part of `mask_image`. For outpainting, send the image placed on a larger canvas ' +
        'and a mask that is white around it.',
      auth: true,
      body: schemas.inpaintBody,
      responses: ANSWERS(),
    },
  },
  {
    mode: 'upscale',
    images: [{ field: 'url', raw: 'initImage' }],
    doc: {
      method: 'POST',
      url: '/v1/super_resolution',
      summary: 'Upscale an image 2x or 4x',
      auth: true,
      body: schemas.superResolutionBody,
      responses: ANSWERS(),
    },
  },
];

export function registerGenerationRoutes(ctx: RouteContext): void {
  for (const endpoint of ENDPOINTS) {
    ctx.route(endpoint.doc, (request, reply) => generate(ctx, endpoint, request, reply));
  }
}

function truthy(value: unknown): boolean {
  return value === true || (typeof value === 'string' && ['true', '1', 'yes'].includes(value.toLowerCase()));
}

/** Schema findings first; the validator's only for fields the schema did not already flag. */
function mergeErrors(schemaErrors: FieldError[], validatorErrors: FieldError[]): FieldError[] {
  const flagged = new Set(schemaErrors.map((e) => e.field));
  return [...schemaErrors, ...validatorErrors.filter((e) => !flagged.has(e.field))];
}

async function checkWebhook(
  ctx: RouteContext,
  request: FastifyRequest,
  webhook: unknown,
): Promise<FieldError[]> {
  if (isAbsent(webhook)) return [];
  if (typeof webhook !== 'string') return [];
  try {
    await resolveAllowed(parseOutboundUrl(webhook), {
      allowPrivate: ctx.config.API_ALLOW_PRIVATE_FETCH,
      ...ctx.fetch,
    });
  } catch (error) {
    if (error instanceof SafeFetchError)
      return [{ field: 'webhook', message: `The webhook URL ${error.message}.` }];
    throw error;
  }
  // Every webhook is signed, so receivers can tell easel's calls from anyone else's.
  if (!request.apiKey?.webhookSecret && !ctx.config.WEBHOOK_SECRET) {
    return [
      {
        field: 'webhook',
        message:
          'The webhook field needs a signing secret on the server: the operator sets WEBHOOK_SECRET or ' +
          'creates the key with --webhook-secret.',
      },
    ];
  }
  return [];
}

async function generate(
  ctx: RouteContext,
  endpoint: Endpoint,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const key = request.apiKey!;
  const body: Body =
    typeof request.body === 'object' && request.body !== null && !Array.isArray(request.body)
      ? (request.body as Body)
      : {};
  const violations = (request.validationError?.validation ?? []) as SchemaViolation[];
  const schemaErrors = fieldErrorsFromSchema(violations);
  if (schemaErrors.some((e) => e.field === 'body')) throw ApiError.validation(schemaErrors);

  const images = endpoint.images.map((image) => ({
    ...image,
    // super_resolution also takes `init_image` for its `url`.
    field:
      image.field === 'url' && isAbsent(body.url) && !isAbsent(body.init_image) ? 'init_image' : image.field,
  }));
  if (endpoint.mode === 'upscale' && images.every((i) => isAbsent(body[i.field]))) {
    schemaErrors.push({ field: 'url', message: 'The url field is required.' });
  }
  schemaErrors.push(...(await checkWebhook(ctx, request, body.webhook)));

  const raw = endpoint.mode === 'upscale' ? emptyRawRequest() : fromHostedApiBody(body);
  raw.mode = endpoint.mode;
  raw.labels.initImage = images[0]?.field ?? 'init_image';
  raw.labels.maskImage = 'mask_image';
  raw.labels.upscale = 'scale';
  if (endpoint.mode === 'upscale') {
    raw.upscale = body.scale;
    if (!isAbsent(body.model_id)) raw.model = body.model_id;
    raw.labels.model = 'model_id';
  }
  // Images are fetched only once everything else is right, so a bad field costs no download.
  for (const image of images) {
    if (!isAbsent(body[image.field])) raw[image.raw] = { artifactId: 'pending' };
  }
  const defaultModel = defaultModelId(ctx.config.DEFAULT_MODEL, ctx.services.registry, ctx.config.MODELS_DIR);
  if (endpoint.mode === 'upscale') {
    // The validator wants the image's size for an upscale; check everything else first.
    raw.width = UPSCALE_INPUT_MIN;
    raw.height = UPSCALE_INPUT_MIN;
  }
  const member = memberOf(key.id, key.name);
  const limits = await ctx.services.quotas.limits(member);
  const first = validateRequest(raw, {
    registry: ctx.services.registry,
    defaultModel,
    limits: { maxPixels: limits.maxPixels, maxSteps: limits.maxSteps },
  });
  const errors = mergeErrors(schemaErrors, first.ok ? [] : first.errors);
  if (errors.length > 0) throw fromUserError(invalidRequestError(errors));
  if (!first.ok) throw new Error('unreachable: validation failed without errors');
  const validated = first.request;

  // A reused Idempotency-Key with another body is refused before any image is fetched.
  const idempotencyKey = readIdempotencyKey(request);
  const requestId = idempotencyKey
    ? idempotentRequestId(key.id, idempotencyKey)
    : `api:${key.id}:${randomUUID()}`;
  const idempotency = idempotencyKey
    ? {
        jobId: jobIdFor(member.scope, requestId),
        fingerprint: await bodyFingerprint(body, request.largeValues),
      }
    : undefined;
  if (idempotency) await ctx.idempotency.check(idempotency.jobId, idempotency.fingerprint);

  const stored: string[] = [];
  try {
    const decoded: DecodedImage[] = [];
    for (const image of images) {
      // A long value was held aside by the body reader; the body holds only a placeholder for it.
      const text = body[image.field];
      const value =
        heldValue(body, request.largeValues, image.field) ??
        (typeof text === 'string' && !isAbsent(text) ? text : undefined);
      if (value === undefined) continue;
      const picture = await readImageInput(image.field, value, {
        fetch: { allowPrivate: ctx.config.API_ALLOW_PRIVATE_FETCH, ...ctx.fetch },
        maxBytes: ctx.config.API_BODY_LIMIT_MB * 1024 * 1024,
        maxPixels: Math.max(ctx.config.MAX_PIXELS, UPSCALE_INPUT_MAX * UPSCALE_INPUT_MAX) * 4,
      });
      decoded.push(picture);
      const artifactId = await ctx.services.artifacts.put(picture.png, { contentType: 'image/png' });
      stored.push(artifactId);
      validated[image.raw] = { artifactId };
    }
    if (endpoint.mode === 'upscale')
      finishUpscale(validated, decoded[0]!, images[0]!.field, limits.maxPixels);
    if (endpoint.mode === 'inpaint' && decoded.length === 2) {
      const mismatch = maskSizeProblem(decoded[1]!, decoded[0]!);
      if (mismatch !== undefined)
        throw ApiError.validation([{ field: 'mask_image', message: `mask_image: ${mismatch}.` }]);
    }
    return await admitAndAnswer(ctx, request, reply, {
      requestId,
      member,
      generation: validated,
      body,
      idempotency,
    });
  } catch (error) {
    await Promise.all(stored.map((id) => ctx.services.artifacts.delete(id).catch(() => {})));
    throw error;
  }
}

/** An API key is both the credit scope and its only member. */
function memberOf(keyId: string, keyName: string): MemberRef {
  return { scope: apiKeyScope(keyId), userId: keyId, displayName: keyName };
}

function finishUpscale(
  validated: GenerationRequest,
  image: DecodedImage,
  field: string,
  maxPixels: number,
): void {
  const fits = (side: number) => side >= UPSCALE_INPUT_MIN && side <= UPSCALE_INPUT_MAX;
  if (!fits(image.width) || !fits(image.height)) {
    throw ApiError.validation([
      {
        field,
        message: `The ${field} image is ${image.width}x${image.height}; images to upscale must be ${UPSCALE_INPUT_MIN} to ${UPSCALE_INPUT_MAX} pixels a side.`,
      },
    ]);
  }
  const tooLarge = upscaleOutputProblem(image, validated.upscale ?? 2, maxPixels);
  if (tooLarge !== undefined) throw ApiError.validation([{ field: 'scale', message: `scale: ${tooLarge}.` }]);
  validated.width = image.width;
  validated.height = image.height;
}

interface Admittable {
  requestId: string;
  member: MemberRef;
  generation: GenerationRequest;
  body: Body;
  /** Set when the client sent an Idempotency-Key: its job and the body admitted under it. */
  idempotency: { jobId: string; fingerprint: string } | undefined;
}

async function admitAndAnswer(
  ctx: RouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
  { requestId, member, generation, body, idempotency }: Admittable,
): Promise<unknown> {
  const keyId = member.scope.id;
  const origin: ApiOrigin = { platform: 'api', keyId };
  if (typeof body.webhook === 'string' && !isAbsent(body.webhook)) origin.webhook = body.webhook.trim();
  if (!isAbsent(body.track_id)) origin.trackId = String(body.track_id);
  if (truthy(body.base64)) origin.base64 = true;

  const admitted = await ctx.services.admission.admit({ requestId, member, request: generation, origin });
  if (!admitted.accepted) throw fromRefusal(admitted);
  if (idempotency) await ctx.idempotency.remember(idempotency.jobId, idempotency.fingerprint);

  // From here on the job exists and may be charged: every answer carries its id and where to fetch
  // it. Losing Redis while waiting is no reason to say otherwise; the client fetches later.
  const baseUrl = ctx.baseUrl();
  const progress: { etaSeconds?: number; position: number } = { position: admitted.position };
  if (admitted.etaSeconds !== undefined) progress.etaSeconds = admitted.etaSeconds;
  const waitMs = ctx.config.API_SYNC_WAIT_MS;
  if (waitMs > 0) {
    try {
      const view = await ctx.services.jobs.waitForResult(admitted.jobId, waitMs);
      if (view) {
        return reply.send(
          await answerFor(view, {
            baseUrl,
            artifacts: ctx.services.artifacts,
            registry: ctx.services.registry,
          }),
        );
      }
    } catch (error) {
      request.log.warn(
        { err: error, jobId: admitted.jobId },
        'could not read an admitted job while waiting; answering processing',
      );
    }
  }
  return reply.send(
    processingAnswer(admitted.jobId, { request: generation, origin }, progress, {
      baseUrl,
      registry: ctx.services.registry,
    }),
  );
}
