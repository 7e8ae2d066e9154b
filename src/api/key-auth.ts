import type { FastifyRequest } from 'fastify';

/**
 * The key may come the way each hosted API sends it: `key` in the JSON body (stablediffusionapi.com),
 * `Authorization: Bearer` (Stability), or `x-api-key`. Headers win over the body.
 */
export function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (bearer) return bearer[1];
  }
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.trim()) return header.trim();
  const body = request.body as { key?: unknown } | undefined;
  if (body && typeof body === 'object' && typeof body.key === 'string' && body.key.trim())
    return body.key.trim();
  return undefined;
}
