import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import sharp from 'sharp';
import type { GenerationMode } from '../../request/types.ts';
import { imageUrl } from '../answers.ts';
import { ApiError } from '../api-error.ts';
import type { RouteDoc } from '../openapi.ts';
import type { Face, FaceContext } from '../operations/face.ts';
import type { ImageInput } from '../operations/generate.ts';
import { bodyOf, schemaErrors } from '../operations/request-body.ts';
import { isRendered, renderBlocking } from './blocking-render.ts';
import { transparentAsMask } from './face-masks.ts';
import { openAiError } from './openai/openai-errors.ts';
import { type MultipartBody, readMultipart } from './openai/openai-multipart.ts';
import { fromOpenAiBody, type OpenAiGeneration, openAiAnswer } from './openai/openai-request.ts';
import * as schemas from './openai/openai-schemas.ts';

/**
 * OpenAI's Images API, for the `openai` clients and the tools built on them (Open WebUI, LibreChat):
 * generations (JSON), edits and variations (multipart), answered synchronously with
 * `{created, data: [{url | b64_json, revised_prompt}]}`. The key goes in `Authorization: Bearer`, as
 * the clients send it. These paths are POST-only and named; easel's own images are
 * `GET /v1/images/<id>.png`, so neither can be taken for the other.
 */

const MULTIPART_URLS = new Set(['/v1/images/edits', '/v1/images/variations']);

const RESPONSES: RouteDoc['responses'] = {
  200: { description: 'The images.', schema: schemas.imagesAnswer },
  400: { description: 'A bad field (param names it).', schema: schemas.errorAnswer },
  401: { description: 'Incorrect API key.', schema: schemas.errorAnswer },
  404: { description: 'Unknown model.', schema: schemas.errorAnswer },
  429: { description: 'Rate limit, or no credits left (insufficient_quota).', schema: schemas.errorAnswer },
  504: {
    description: 'Not rendered within API_SYNC_FACE_WAIT_MS: cancelled, not charged.',
    schema: schemas.errorAnswer,
  },
};

export const openAiFace: Face = {
  name: 'openai',
  title: 'OpenAI Images API (/v1/images)',
  renderError: (_problem, error) => openAiError(error),
  register(ctx) {
    const maxFileBytes = ctx.config.API_BODY_LIMIT_MB * 1024 * 1024;
    // The parser only marks a request as multipart; the handlers read it (openai-multipart.ts).
    ctx.app.register(multipart, { limits: { fileSize: maxFileBytes } });
    // Every other route keeps answering multipart bodies 415, in its own face's shape, as the request
    // arrives (before a key in the body would be looked for).
    ctx.app.addHook('onRequest', async (request) => {
      const type = request.headers['content-type'] ?? '';
      if (/^\s*multipart\//i.test(type) && !MULTIPART_URLS.has(request.routeOptions.url ?? '')) {
        throw ApiError.of(
          415,
          'Unsupported content type',
          'Send the body as JSON with "Content-Type: application/json".',
        );
      }
    });

    ctx.route(
      {
        method: 'POST',
        url: '/v1/images/generations',
        summary: 'Create images from a prompt (OpenAI)',
        auth: true,
        body: schemas.generationsBody,
        responses: RESPONSES,
      },
      async (request) => {
        const body = bodyOf(request);
        return answer(ctx, request, fromOpenAiBody(body, 'txt2img'), [], schemaErrors(request), body);
      },
    );

    ctx.route(
      {
        method: 'POST',
        url: '/v1/images/edits',
        summary: 'Edit an image: repaint its transparent part (OpenAI)',
        description:
          'multipart/form-data. The fully transparent pixels of `mask` (or, without one, of `image`) are ' +
          'repainted; an image with none is redrawn whole.',
        auth: true,
        multipart: schemas.editsForm,
        responses: RESPONSES,
      },
      async (request) => {
        const form = await readMultipart(request, maxFileBytes);
        const image = requiredImage(form);
        const mask = await maskOf(form, image, ctx.config.MAX_PIXELS * 4);
        const mode: GenerationMode = mask ? 'inpaint' : 'img2img';
        const images: ImageInput[] = [{ field: 'image', role: 'initImage', value: dataUri(image) }];
        if (mask) images.push({ field: 'mask', role: 'maskImage', value: dataUri(mask) });
        return answer(ctx, request, fromOpenAiBody(form.fields, mode), images, [], form.fields);
      },
    );

    ctx.route(
      {
        method: 'POST',
        url: '/v1/images/variations',
        summary: 'Variations of an image (OpenAI)',
        description: 'multipart/form-data with `image`; `prompt`, which OpenAI does not take, may steer it.',
        auth: true,
        multipart: schemas.variationsForm,
        responses: RESPONSES,
      },
      async (request) => {
        const form = await readMultipart(request, maxFileBytes);
        const image = requiredImage(form);
        const images: ImageInput[] = [{ field: 'image', role: 'initImage', value: dataUri(image) }];
        return answer(ctx, request, fromOpenAiBody(form.fields, 'variation'), images, [], form.fields);
      },
    );
  },
};

function requiredImage(form: MultipartBody): Buffer {
  const image = form.files.image;
  if (!image || image.length === 0) {
    throw ApiError.validation([
      { field: 'image', message: "image: required; send the image file as 'image'" },
    ]);
  }
  return image;
}

/** OpenAI's mask: transparent = edit, from the mask file or else the image's own transparency. */
async function maskOf(form: MultipartBody, image: Buffer, maxPixels: number): Promise<Buffer | undefined> {
  const given = form.files.mask;
  const field = given ? 'mask' : 'image';
  const mask = await transparentAsMask(given ?? image, maxPixels).catch(() => {
    throw ApiError.validation([
      { field, message: `${field}: is not an image of at most ${maxPixels} pixels (expected a PNG)` },
    ]);
  });
  if (given && !mask) {
    throw ApiError.validation([
      { field: 'mask', message: 'mask: has no fully transparent pixels; transparent marks the part to edit' },
    ]);
  }
  if (mask && given) {
    // OpenAI requires the mask to match the image; say so by OpenAI's field names.
    const [a, b] = await Promise.all([sharp(image).metadata(), sharp(given).metadata()]).catch(() => {
      throw ApiError.validation([{ field: 'image', message: 'image: is not an image (expected a PNG)' }]);
    });
    if (a.width !== b.width || a.height !== b.height) {
      throw ApiError.validation([
        {
          field: 'mask',
          message: `mask: is ${b.width}x${b.height} but image is ${a.width}x${a.height}; they must be the same size`,
        },
      ]);
    }
  }
  return mask;
}

function dataUri(bytes: Buffer): string {
  return `data:application/octet-stream;base64,${bytes.toString('base64')}`;
}

async function answer(
  ctx: FaceContext,
  request: FastifyRequest,
  generation: OpenAiGeneration,
  images: ImageInput[],
  errors: ReturnType<typeof schemaErrors>,
  body: Record<string, unknown>,
): Promise<unknown> {
  const { raw, responseFormat } = generation;
  const outcome = await renderBlocking(ctx, {
    request,
    mode: raw.mode ?? 'txt2img',
    raw,
    images,
    errors,
    body,
  });
  if (!isRendered(outcome)) throw ApiError.of(500, 'The render failed', outcome.message);
  const { result, data, pngs } = outcome;
  const baseUrl = ctx.baseUrl();
  const entries = result.images.map((image, i) =>
    responseFormat === 'b64_json'
      ? { b64_json: pngs[i]!.toString('base64') }
      : { url: imageUrl(baseUrl, image.artifactId) },
  );
  const first = result.images[0];
  return openAiAnswer(Date.now(), entries, data.request.prompt, {
    width: first?.width ?? data.request.width,
    height: first?.height ?? data.request.height,
  });
}
