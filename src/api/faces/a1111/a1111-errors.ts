import type { ApiError } from '../../api-error.ts';
import type { FaceError } from '../face-error.ts';

/**
 * easel's refusals as AUTOMATIC1111's API answers them. Its `api_middleware` turns every exception
 * into `{error: <exception class>, detail, body, errors: str(exception)}` with the exception's status
 * (`HTTPException(401)` for a wrong `--api-auth` password, with `WWW-Authenticate: Basic`); a body
 * that fails validation gets FastAPI's own 422, `{detail: [{loc: ["body", field], msg, type}]}`.
 */

const INCORRECT_KEY =
  'Incorrect username or password: send your easel API key as the password (--api-auth user:KEY, any ' +
  'user name), or as "Authorization: Bearer <key>".';

export function a1111Error(error: ApiError): FaceError {
  const { message, tips } = error.body as { message: unknown; tips?: unknown };
  if (typeof message === 'object' && message !== null) {
    const detail = Object.entries(message as Record<string, string[]>).flatMap(([field, texts]) =>
      texts.map((msg) => ({ loc: ['body', field], msg, type: 'value_error' })),
    );
    return { statusCode: 422, body: { detail }, headers: error.headers };
  }
  const headers = { ...error.headers };
  let text = typeof tips === 'string' ? `${String(message)}: ${tips}` : String(message);
  if (error.statusCode === 401) {
    headers['www-authenticate'] = 'Basic';
    text = INCORRECT_KEY;
  }
  return {
    statusCode: error.statusCode,
    body: { error: 'HTTPException', detail: text, body: '', errors: `${error.statusCode}: ${text}` },
    headers,
  };
}
