import type { AdmissionRefused } from '../admission/types.ts';
import type { FieldError, UserError } from '../errors/user-error.ts';

/**
 * A refusal as the hosted Stable Diffusion APIs answer it: an HTTP code clients already branch on,
 * and a body `{status: "error", message, tips}` (or, for validation, `message` as an object of
 * field -> messages).
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.message === 'string' ? body.message : 'validation failed');
  }

  static of(
    statusCode: number,
    message: string,
    tips?: string,
    extra: Record<string, unknown> = {},
  ): ApiError {
    return new ApiError(statusCode, { status: 'error', message, ...(tips ? { tips } : {}), ...extra });
  }

  /** 422 `{status: "error", message: {field: [messages]}}`, one entry per bad field. */
  static validation(fields: FieldError[]): ApiError {
    const message: Record<string, string[]> = {};
    for (const { field, message: text } of fields) {
      const list = message[field] ?? [];
      if (!list.includes(text)) list.push(text);
      message[field] = list;
    }
    return new ApiError(422, { status: 'error', message });
  }

  static rateLimited(retryAfter: number | undefined, tips: string): ApiError {
    const seconds = Math.max(1, Math.ceil(retryAfter ?? 1));
    return new ApiError(
      429,
      { status: 'error', message: 'Rate limit exceeded', tips, retry_after: seconds },
      { 'retry-after': String(seconds) },
    );
  }
}

/**
 * What a refusal says, independent of any face's shape: each face renders this its own way
 * (modelslab's `{status: "error", message, tips}`, OpenAI's `{error: {message, type}}`, ...).
 */
export interface ApiProblem {
  statusCode: number;
  /** The headline ("Invalid Api Key", "Rate limit exceeded"); "Invalid request" for bad fields. */
  message: string;
  tips?: string;
  /** Bad fields, one entry per message (validation refusals only). */
  fields?: FieldError[];
  /** Seconds to wait (429 only). */
  retryAfter?: number;
  /** Headers the answer must carry whatever its shape (Retry-After). */
  headers: Record<string, string>;
}

export function problemOf(error: ApiError): ApiProblem {
  const { body } = error;
  const problem: ApiProblem = {
    statusCode: error.statusCode,
    message: typeof body.message === 'string' ? body.message : 'Invalid request',
    headers: error.headers,
  };
  if (typeof body.tips === 'string') problem.tips = body.tips;
  if (typeof body.retry_after === 'number') problem.retryAfter = body.retry_after;
  if (typeof body.message === 'object' && body.message !== null) {
    problem.fields = Object.entries(body.message as Record<string, string[]>).flatMap(([field, messages]) =>
      messages.map((message) => ({ field, message })),
    );
  }
  return problem;
}

export const INVALID_KEY_TIPS =
  'Send your API key as "key" in the JSON body, or as "Authorization: Bearer <key>" or "x-api-key: <key>". ' +
  'An operator creates keys with `easel keys create --name NAME --credits N`.';

export function invalidKey(): ApiError {
  return ApiError.of(401, 'Invalid Api Key', INVALID_KEY_TIPS);
}

export function modelNotFound(given: string): ApiError {
  return ApiError.of(
    404,
    'Model id not found',
    `No model "${given}". GET /v1/models lists the models this server has.`,
  );
}

/** Maps an admission refusal to the answer clients of the hosted APIs expect. */
export function fromRefusal(refusal: AdmissionRefused): ApiError {
  switch (refusal.reason) {
    case 'rate-limited':
    case 'cooldown':
    case 'pending-cap':
      return ApiError.rateLimited(refusal.retryAfter, refusal.message);
    case 'insufficient-credits':
      return ApiError.of(402, 'Not enough credits', refusal.message);
    case 'scope-budget':
      return ApiError.of(402, 'Daily budget of this key reached', refusal.message);
    case 'suspended':
      return ApiError.of(403, 'This key is suspended', refusal.message);
    case 'banned-word':
      return ApiError.validation([{ field: 'prompt', message: refusal.message }]);
    case 'over-limits':
      return ApiError.validation([{ field: 'request', message: refusal.message }]);
  }
}

/** Maps a `UserError` thrown by a shared service to an answer. */
export function fromUserError(error: UserError): ApiError {
  switch (error.identifier) {
    case 'invalid-request':
      return ApiError.validation(error.context.fields ?? [{ field: 'request', message: error.message }]);
    case 'model-not-found':
      return ApiError.of(404, 'Model id not found', error.message);
    case 'rate-limited':
    case 'cooldown':
    case 'pending-cap':
      return ApiError.rateLimited(error.context.retryAfter, error.message);
    case 'insufficient-credits':
    case 'scope-budget':
      return ApiError.of(402, 'Not enough credits', error.message);
    case 'banned-word':
      return ApiError.validation([{ field: 'prompt', message: error.message }]);
    case 'not-found':
      return ApiError.of(404, 'Not found', error.message);
    case 'suspended':
    case 'forbidden':
    case 'not-admin':
      return ApiError.of(403, 'Forbidden', error.message);
    case 'unavailable':
      return ApiError.of(503, 'Service unavailable', error.message);
  }
}
