import type { ApiError } from '../../api-error.ts';
import type { FaceError } from '../face-error.ts';

/**
 * easel's refusals as OpenAI answers them: `{error: {message, type, param, code}}` with OpenAI's
 * status codes, which its clients turn into their error classes (the `openai` package: 400
 * BadRequestError, 401 AuthenticationError, 404 NotFoundError, 429 RateLimitError...). Bad fields
 * are a 400 `invalid_request_error` naming the first one in `param` (OpenAI reports one at a time;
 * the message lists them all). Running out of credits is OpenAI's 429 `insufficient_quota`.
 */

type OpenAiErrorBody = { message: string; type: string; param: string | null; code: string | null };

function shaped(statusCode: number, error: OpenAiErrorBody, headers: Record<string, string>): FaceError {
  return { statusCode, body: { error }, headers };
}

const INVALID_KEY =
  'Incorrect API key provided. Send your easel API key as "Authorization: Bearer <key>" (the openai ' +
  "client's apiKey). An operator creates keys with `easel keys create --name NAME --credits N`.";

export function openAiError(error: ApiError): FaceError {
  const { message, tips } = error.body as { message: unknown; tips?: unknown };
  const headers = error.headers;
  if (typeof message === 'object' && message !== null) {
    const fields = Object.entries(message as Record<string, string[]>);
    const text = fields.flatMap(([, texts]) => texts).join('; ');
    return shaped(
      400,
      { message: text, type: 'invalid_request_error', param: fields[0]?.[0] ?? null, code: null },
      headers,
    );
  }
  const text = typeof tips === 'string' ? `${String(message)}: ${tips}` : String(message);
  switch (error.statusCode) {
    case 401:
      return shaped(
        401,
        { message: INVALID_KEY, type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
        headers,
      );
    case 402:
      return shaped(
        429,
        { message: text, type: 'insufficient_quota', param: null, code: 'insufficient_quota' },
        headers,
      );
    case 429:
      return shaped(
        429,
        { message: text, type: 'requests', param: null, code: 'rate_limit_exceeded' },
        headers,
      );
    case 404: {
      const model = message === 'Model id not found';
      return shaped(
        404,
        {
          message: text,
          type: 'invalid_request_error',
          param: model ? 'model' : null,
          code: model ? 'model_not_found' : 'not_found',
        },
        headers,
      );
    }
    default:
      return shaped(
        error.statusCode,
        {
          message: text,
          type: error.statusCode >= 500 ? 'server_error' : 'invalid_request_error',
          param: null,
          code: null,
        },
        headers,
      );
  }
}
