import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { jobIdFor } from '../../admission/job-id.ts';
import type { FieldError } from '../../errors/user-error.ts';
import type { ApiOrigin } from '../../queue/job-data.ts';
import { defaultModelId } from '../../request/default-model.ts';
import { API_COUNT_MAX, UPSCALE_INPUT_MAX, UPSCALE_INPUT_MIN } from '../../request/limits.ts';
import { maskSizeProblem, upscaleOutputProblem } from '../../request/output-size.ts';
import { isAbsent, type RawRequest } from '../../request/raw-request.ts';
import type { GenerationMode, GenerationRequest } from '../../request/types.ts';
import { invalidRequestError, validateRequest } from '../../request/validate-request.ts';
import { ApiError, fromRefusal, fromUserError } from '../api-error.ts';
import { bodyFingerprint, idempotentRequestId, readIdempotencyKey } from '../idempotency-key.ts';
import { type DecodedImage, readImageInput } from '../image-input.ts';
import { keyMember } from '../key-admin.ts';
import { heldValue, type LargeValue } from '../large-body-values.ts';
import { parseOutboundUrl, resolveAllowed, SafeFetchError } from '../safe-fetch.ts';
import type { RouteContext } from '../server.ts';
import { type JobOutcome, outcomeOf } from './job-outcome.ts';

/**
 * The generate operation every face maps onto: check the fields (the face's findings and the shared
 * validator's, every bad field at once), refuse a key over its rate, fetch and store the input
 * images, admit (spam filter, credits, queue), then wait up to the sync wait for the result.
 * Nothing is left behind by a refusal: stored input images are deleted again, nothing is reserved.
 */

export type OperationContext = Pick<
  RouteContext,
  'config' | 'services' | 'fetch' | 'idempotency' | 'baseUrl' | 'keyRates'
>;

/** An image field of the request: the name the client used, and its value when given. */
export interface ImageInput {
  field: string;
  role: 'initImage' | 'maskImage';
  /** A URL, data URI or base64 text, or the body reader's held value of a long one. */
  value: string | LargeValue | undefined;
}

export interface GenerateInput {
  /** The HTTP request: its verified key, Idempotency-Key header and log. */
  request: FastifyRequest;
  mode: GenerationMode;
  /**
   * The request in easel's fields, as the face read them (labels say the face's names, so messages
   * name the client's fields). `mode` and the image refs are set by the operation.
   */
  raw: RawRequest;
  images: ImageInput[];
  /** Bad fields the face found (schema violations, fields refused by name). */
  errors: FieldError[];
  /** What the job remembers for its answers and webhook call. */
  origin?: {
    webhook?: unknown;
    trackId?: unknown;
    base64?: boolean;
    webhookField?: string;
    clipFormat?: ApiOrigin['clipFormat'];
  };
  /** For an Idempotency-Key: the body as sent, whose fingerprint the key is bound to. */
  body: Record<string, unknown>;
  /** How long to wait for the render (default API_SYNC_WAIT_MS; 0 answers `processing` at once). */
  waitMs?: number;
  /** The most images the face's API allows in one request (default API_COUNT_MAX). */
  maxCount?: number;
}

/**
 * Generate for an API that answers only with the finished images (one with no fetch: aithriving,
 * segmind, AUTOMATIC1111, OpenAI): waits for the render, up to `input.waitMs` (default
 * API_SYNC_FACE_WAIT_MS); one still unfinished then is cancelled and refunded, and the client gets a
 * 504 rather than a charge for images it will never see.
 */
export async function generateFinished(
  ctx: OperationContext,
  input: GenerateInput,
): Promise<Exclude<JobOutcome, { status: 'processing' }>> {
  const waitMs = input.waitMs ?? ctx.config.API_SYNC_FACE_WAIT_MS;
  const outcome = await generate(ctx, { ...input, waitMs });
  if (outcome.status !== 'processing') return outcome;
  const key = input.request.apiKey!;
  await ctx.services.jobs.cancel(outcome.jobId, keyMember(key.id, key.name)).catch((error: unknown) => {
    input.request.log.warn(
      { err: error, jobId: outcome.jobId },
      'could not cancel an unfinished sync render',
    );
  });
  // It may have finished between the wait and the cancel: then it was charged, and is answered.
  const view = await ctx.services.jobs.get(outcome.jobId);
  if (view?.state === 'completed') {
    const done = outcomeOf(view);
    if (done.status !== 'processing') return done;
  }
  throw ApiError.of(
    504,
    'Render timed out',
    `The render did not finish within ${Math.round(waitMs / 1000)} s; it was cancelled and not charged. Try again when the queue is shorter (GET /v1/system_load).`,
  );
}

/** The images and fields of a body read straight from it, with long values held aside by the reader. */
export function imageInput(
  request: FastifyRequest,
  body: Record<string, unknown>,
  field: string,
  role: ImageInput['role'],
): ImageInput {
  const held = heldValue(body, request.largeValues, field);
  const text = body[field];
  const value = held ?? (typeof text === 'string' && !isAbsent(text) ? text : undefined);
  return { field, role, value };
}

export async function generate(ctx: OperationContext, input: GenerateInput): Promise<JobOutcome> {
  const { request, mode, raw } = input;
  const key = request.apiKey;
  if (!key) throw new Error('generate needs a verified key (route auth: true)');
  const member = keyMember(key.id, key.name);
  await ctx.keyRates.check(key);

  const errors = [...input.errors];
  const webhookField = input.origin?.webhookField ?? 'webhook';
  errors.push(...(await checkWebhook(ctx, request, input.origin?.webhook, webhookField)));

  raw.mode = mode;
  const images = input.images;
  // Images are fetched only once everything else is right, so a bad field costs no download.
  for (const image of images) {
    if (image.value !== undefined) raw[image.role] = { artifactId: 'pending' };
    raw.labels[image.role] = image.field;
  }
  if (mode === 'upscale') {
    // The validator wants the image's size for an upscale; check everything else first.
    raw.width = UPSCALE_INPUT_MIN;
    raw.height = UPSCALE_INPUT_MIN;
  }
  const defaultModel = defaultModelId(ctx.config.DEFAULT_MODEL, ctx.services.registry, ctx.config.MODELS_DIR);
  const limits = await ctx.services.quotas.limits(member);
  const first = validateRequest(raw, {
    registry: ctx.services.registry,
    defaultModel,
    limits: { maxPixels: limits.maxPixels, maxSteps: limits.maxSteps },
    maxCount: input.maxCount ?? API_COUNT_MAX,
  });
  const all = mergeErrors(errors, first.ok ? [] : first.errors);
  if (all.length > 0) throw fromUserError(invalidRequestError(all));
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
        fingerprint: await bodyFingerprint(input.body, request.largeValues),
      }
    : undefined;
  if (idempotency) await ctx.idempotency.check(idempotency.jobId, idempotency.fingerprint);

  const stored: string[] = [];
  try {
    const decoded: DecodedImage[] = [];
    for (const image of images) {
      if (image.value === undefined) continue;
      const picture = await readImageInput(image.field, image.value, {
        fetch: { allowPrivate: ctx.config.API_ALLOW_PRIVATE_FETCH, ...ctx.fetch },
        maxBytes: ctx.config.API_BODY_LIMIT_MB * 1024 * 1024,
        maxPixels: Math.max(ctx.config.MAX_PIXELS, UPSCALE_INPUT_MAX * UPSCALE_INPUT_MAX) * 4,
      });
      decoded.push(picture);
      const artifactId = await ctx.services.artifacts.put(picture.png, { contentType: 'image/png' });
      stored.push(artifactId);
      validated[image.role] = { artifactId };
    }
    const upscaled = images.find((i) => i.value !== undefined);
    if (mode === 'upscale' && upscaled) {
      finishUpscale(validated, decoded[0]!, upscaled.field, raw.labels.upscale ?? 'scale', limits.maxPixels);
    }
    if (mode === 'inpaint' && decoded.length === 2) {
      const mismatch = maskSizeProblem(decoded[1]!, decoded[0]!);
      const maskField = images[1]?.field ?? 'mask_image';
      if (mismatch !== undefined)
        throw ApiError.validation([{ field: maskField, message: `${maskField}: ${mismatch}.` }]);
    }

    const origin: ApiOrigin = { platform: 'api', keyId: key.id };
    const { webhook, trackId, base64 } = input.origin ?? {};
    if (typeof webhook === 'string' && !isAbsent(webhook)) origin.webhook = webhook.trim();
    if (!isAbsent(trackId)) origin.trackId = String(trackId);
    if (base64 === true) origin.base64 = true;
    if (input.origin?.clipFormat !== undefined) origin.clipFormat = input.origin.clipFormat;

    const admitted = await ctx.services.admission.admit({
      requestId,
      member,
      request: validated,
      origin,
    });
    if (!admitted.accepted) throw fromRefusal(admitted);
    if (idempotency) await ctx.idempotency.remember(idempotency.jobId, idempotency.fingerprint);
    return await waitForOutcome(ctx, request, admitted, { request: validated, origin }, input.waitMs);
  } catch (error) {
    await Promise.all(stored.map((id) => ctx.services.artifacts.delete(id).catch(() => {})));
    throw error;
  }
}

/**
 * From here on the job exists and may be charged: every outcome carries its id. Losing Redis while
 * waiting is no reason to say otherwise; the client fetches later.
 */
async function waitForOutcome(
  ctx: OperationContext,
  request: FastifyRequest,
  admitted: { jobId: string; position: number; etaSeconds?: number },
  data: { request: GenerationRequest; origin: ApiOrigin },
  waitMs = ctx.config.API_SYNC_WAIT_MS,
): Promise<JobOutcome> {
  if (waitMs > 0) {
    try {
      const view = await ctx.services.jobs.waitForResult(admitted.jobId, waitMs);
      if (view) return outcomeOf(view);
    } catch (error) {
      request.log.warn(
        { err: error, jobId: admitted.jobId },
        'could not read an admitted job while waiting; answering processing',
      );
    }
  }
  return {
    status: 'processing',
    jobId: admitted.jobId,
    data,
    position: admitted.position,
    ...(admitted.etaSeconds !== undefined ? { etaSeconds: admitted.etaSeconds } : {}),
  };
}

/** The face's findings first; the validator's only for fields the face did not already flag. */
function mergeErrors(faceErrors: FieldError[], validatorErrors: FieldError[]): FieldError[] {
  const flagged = new Set(faceErrors.map((e) => e.field));
  return [...faceErrors, ...validatorErrors.filter((e) => !flagged.has(e.field))];
}

async function checkWebhook(
  ctx: OperationContext,
  request: FastifyRequest,
  webhook: unknown,
  field: string,
): Promise<FieldError[]> {
  if (isAbsent(webhook) || typeof webhook !== 'string') return [];
  try {
    await resolveAllowed(parseOutboundUrl(webhook), {
      allowPrivate: ctx.config.API_ALLOW_PRIVATE_FETCH,
      ...ctx.fetch,
    });
  } catch (error) {
    if (error instanceof SafeFetchError) return [{ field, message: `The ${field} URL ${error.message}.` }];
    throw error;
  }
  // Every webhook is signed, so receivers can tell easel's calls from anyone else's.
  if (!request.apiKey?.webhookSecret && !ctx.config.WEBHOOK_SECRET) {
    return [
      {
        field,
        message:
          `The ${field} field needs a signing secret on the server: the operator sets WEBHOOK_SECRET or ` +
          'creates the key with --webhook-secret.',
      },
    ];
  }
  return [];
}

function finishUpscale(
  validated: GenerationRequest,
  image: DecodedImage,
  field: string,
  scaleField: string,
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
  if (tooLarge !== undefined)
    throw ApiError.validation([{ field: scaleField, message: `${scaleField}: ${tooLarge}.` }]);
  validated.width = image.width;
  validated.height = image.height;
}
