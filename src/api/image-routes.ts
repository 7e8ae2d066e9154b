import type { FastifyReply } from 'fastify';
import { CLIP_CONTENT_TYPES, type ClipFormat } from '../engine/video/encode-clip.ts';
import type { ApiOrigin } from '../queue/job-data.ts';
import type { JobView } from '../queue/job-view.ts';
import { answeredClip } from './answers.ts';
import { ApiError } from './api-error.ts';
import * as schemas from './route-schemas.ts';
import type { RouteContext } from './server.ts';

type ApiJobView = JobView & { data: { origin: ApiOrigin } };

/**
 * GET /v1/images/<id>.png: rendered images at unguessable URLs (the id is 128 random bits; no key is
 * needed, as with the hosted APIs' CDN links). An image past IMAGE_RETENTION_HOURS is gone even
 * before the sweeper removes its file.
 *
 * GET /v1/jobs/<job id>/images/<n>.png: the n-th image of an API job, at a URL known as soon as the
 * job is queued (modelslab's `future_links`, imagepipeline's `queued_image_urls`): 404 "Image not
 * ready" until the render is done, then the image. A job id is as unguessable as an image id (96
 * bits of a hash over the key and a random request id) and only API jobs are served.
 */
export function futureImageUrls(baseUrl: string, jobId: string, count: number): string[] {
  return Array.from(
    { length: count },
    (_, n) => `${baseUrl}/v1/jobs/${encodeURIComponent(jobId)}/images/${n}.png`,
  );
}

export function registerImageRoutes(ctx: RouteContext): void {
  const retentionMs = ctx.config.IMAGE_RETENTION_HOURS * 3_600_000;
  const gone = () =>
    ApiError.of(404, 'Image not found', 'Images are kept for a limited time; render it again.');

  /**
   * An API job whose images or clip a link names: 404 "not ready" while it is queued or rendering,
   * gone when it is not an API job, failed, cancelled or unknown.
   */
  const finishedApiJob = (view: JobView | undefined, what: 'Image' | 'Video'): ApiJobView => {
    if (!view || view.data.origin.platform !== 'api') throw gone();
    if (view.state === 'completed') return view as ApiJobView;
    if (view.state === 'failed' || view.state === 'cancelled') throw gone();
    throw ApiError.of(404, `${what} not ready`, 'The job is still queued or rendering; try again shortly.');
  };

  const isImage = (type: string) => type.startsWith('image/');
  const sendStored = async (reply: FastifyReply, artifactId: string, accepts = isImage) => {
    const artifacts = ctx.services.artifacts;
    if (artifacts.directLink !== undefined) {
      // ARTIFACTS_PRESIGN: the bytes come straight from the bucket; this URL stays the stable one.
      const link = await artifacts.directLink(artifactId);
      if (!link || !accepts(link.meta.contentType)) throw gone();
      if (link.meta.createdAt + retentionMs <= ctx.now()) throw gone();
      return reply.code(302).header('location', link.url).header('cache-control', 'no-store').send();
    }
    const stored = await artifacts.get(artifactId);
    if (!stored || !accepts(stored.meta.contentType)) throw gone();
    const expiresAt = stored.meta.createdAt + retentionMs;
    if (expiresAt <= ctx.now()) throw gone();
    return reply
      .type(stored.meta.contentType)
      .header('cache-control', `private, max-age=${Math.floor((expiresAt - ctx.now()) / 1000)}, immutable`)
      .header('x-content-type-options', 'nosniff')
      .send(stored.bytes);
  };

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
      return sendStored(reply, match[1]!);
    },
  );

  ctx.route(
    {
      method: 'GET',
      url: '/v1/jobs/:id/images/:file',
      summary: 'An image of a job, by its place (known before the render)',
      auth: false,
      params: schemas.jobImageParams,
      responses: {
        200: {
          description: 'The PNG.',
          contentType: 'image/png',
          schema: { type: 'string', format: 'binary' },
        },
        404: {
          description: 'Not rendered yet, no such image, or past retention.',
          schema: schemas.errorAnswer,
        },
      },
    },
    async (request, reply) => {
      const { id, file } = request.params as { id: string; file: string };
      const match = /^(\d{1,2})\.png$/.exec(file);
      if (!match) throw gone();
      const view = finishedApiJob(await ctx.services.jobs.get(id), 'Image');
      const image = view.result?.images[Number(match[1])];
      if (!image) throw gone();
      return sendStored(reply, image.artifactId);
    },
  );

  // Clips: the extension names the format, and must be the stored file's (a PNG is not served as .mp4).
  const clipType = (format: string) => (type: string) => type === CLIP_CONTENT_TYPES[format as ClipFormat];
  const CLIP_FILE = /^([A-Za-z0-9_-]{16,64})\.(mp4|gif|webp)$/;

  ctx.route(
    {
      method: 'GET',
      url: '/v1/videos/:file',
      summary: 'A rendered clip',
      auth: false,
      params: schemas.clipParams,
      responses: {
        200: {
          description: 'The clip: video/mp4, image/gif or image/webp, as the extension says.',
          contentType: 'video/mp4',
          schema: { type: 'string', format: 'binary' },
        },
        302: { description: 'With ARTIFACTS_PRESIGN: a presigned link to the clip in the bucket.' },
        404: { description: 'Unknown, or past retention.', schema: schemas.errorAnswer },
      },
    },
    async (request, reply) => {
      const { file } = request.params as { file: string };
      const match = CLIP_FILE.exec(file);
      if (!match) throw gone();
      return sendStored(reply, match[1]!, clipType(match[2]!));
    },
  );

  ctx.route(
    {
      method: 'GET',
      url: '/v1/jobs/:id/video',
      summary: 'The clip of a job (a URL known before the render)',
      auth: false,
      params: schemas.jobIdParams,
      responses: {
        200: {
          description: 'The clip, in the format its answer links (`output_type`, else MP4, GIF, WebP).',
          contentType: 'video/mp4',
          schema: { type: 'string', format: 'binary' },
        },
        404: { description: 'Not rendered yet, not a clip, or past retention.', schema: schemas.errorAnswer },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const found = await ctx.services.jobs.get(id);
      if (found?.data.request.video === undefined) throw gone();
      const view = finishedApiJob(found, 'Video');
      const clip = view.result?.video;
      if (!clip) throw gone();
      const file = answeredClip(clip, view.data.origin.clipFormat);
      return sendStored(reply, file.artifactId, clipType(file.format));
    },
  );
}

/** Where a queued clip will be (modelslab's `future_links`). */
export function futureClipUrl(baseUrl: string, jobId: string): string {
  return `${baseUrl}/v1/jobs/${encodeURIComponent(jobId)}/video`;
}
