import { ApiError } from './api-error.ts';
import * as schemas from './route-schemas.ts';
import type { RouteContext } from './server.ts';

/**
 * GET /v1/images/<id>.png: rendered images at unguessable URLs (the id is 128 random bits; no key is
 * needed, as with the hosted APIs' CDN links). An image past IMAGE_RETENTION_HOURS is gone even
 * before the sweeper removes its file.
 */
export function registerImageRoutes(ctx: RouteContext): void {
  const retentionMs = ctx.config.IMAGE_RETENTION_HOURS * 3_600_000;
  const gone = () =>
    ApiError.of(404, 'Image not found', 'Images are kept for a limited time; render it again.');

  ctx.route(
    {
      method: 'GET',
      url: '/v1/images/:file',
      summary: 'A rendered image',
      auth: false,
      params: schemas.imageParams,
      responses: {
        200: {
          description: 'The PNG.',
          contentType: 'image/png',
          schema: { type: 'string', format: 'binary' },
        },
        302: { description: 'With ARTIFACTS_PRESIGN: a presigned link to the PNG in the bucket.' },
        404: { description: 'Unknown, or past retention.', schema: schemas.errorAnswer },
      },
    },
    async (request, reply) => {
      const { file } = request.params as { file: string };
      const match = /^([A-Za-z0-9_-]{16,64})\.png$/.exec(file);
      if (!match) throw gone();
      const artifacts = ctx.services.artifacts;
      if (artifacts.directLink !== undefined) {
        // ARTIFACTS_PRESIGN: the bytes come straight from the bucket; this URL stays the stable one.
        const link = await artifacts.directLink(match[1]!);
        if (!link?.meta.contentType.startsWith('image/')) throw gone();
        if (link.meta.createdAt + retentionMs <= ctx.now()) throw gone();
        return reply.code(302).header('location', link.url).header('cache-control', 'no-store').send();
      }
      const stored = await artifacts.get(match[1]!);
      if (!stored?.meta.contentType.startsWith('image/')) throw gone();
      const expiresAt = stored.meta.createdAt + retentionMs;
      if (expiresAt <= ctx.now()) throw gone();
      return reply
        .type(stored.meta.contentType)
        .header('cache-control', `private, max-age=${Math.floor((expiresAt - ctx.now()) / 1000)}, immutable`)
        .header('x-content-type-options', 'nosniff')
        .send(stored.bytes);
    },
  );
}
