import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';

/**
 * Where an API key may come from, in the ways the hosted APIs and their clients send it:
 * `Authorization: Bearer <key>` (Stability), a bare `Authorization: <key>`, HTTP Basic with the key
 * as the password (or as the user name with an empty password), `x-api-key` or `API-Key`, or `key`
 * in the JSON body (stablediffusionapi.com). A header wins over the body, and is checked before the
 * body is read.
 */

/** What the headers carry: nothing key-like, or a key (undefined when the header is unreadable). */
export type HeaderKey = { present: false } | { present: true; key: string | undefined };

const KEY_HEADERS = ['x-api-key', 'api-key'] as const;

export function headerKey(headers: IncomingHttpHeaders): HeaderKey {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.trim()) return { present: true, key: fromAuthorization(auth.trim()) };
  for (const name of KEY_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && value.trim()) return { present: true, key: value.trim() };
  }
  return { present: false };
}

function fromAuthorization(value: string): string | undefined {
  const [scheme, ...rest] = value.split(/\s+/);
  if (rest.length === 0) return scheme;
  if (rest.length !== 1) return undefined;
  const credentials = rest[0]!;
  switch (scheme!.toLowerCase()) {
    case 'bearer':
      return credentials;
    case 'basic': {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) return undefined;
      const password = decoded.slice(colon + 1);
      return password || decoded.slice(0, colon) || undefined;
    }
    default:
      return undefined;
  }
}

/** The body's `key` field, for a request whose headers carry none. */
export function bodyKey(request: FastifyRequest): string | undefined {
  const body = request.body as { key?: unknown } | undefined;
  if (body && typeof body === 'object' && typeof body.key === 'string' && body.key.trim())
    return body.key.trim();
  return undefined;
}
