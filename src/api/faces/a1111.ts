import type { FastifyRequest } from 'fastify';
import { listAddOns } from '../../engine/add-ons/add-on-listing.ts';
import { readPngText } from '../../engine/png-text.ts';
import { findModel } from '../../models/registry.ts';
import { defaultModelId } from '../../request/default-model.ts';
import { isAbsent } from '../../request/raw-request.ts';
import { ApiError, modelNotFound } from '../api-error.ts';
import { readImageInput } from '../image-input.ts';
import { keyMember } from '../key-admin.ts';
import { heldItem, heldValue, type LargeValue } from '../large-body-values.ts';
import type { RouteDoc } from '../openapi.ts';
import type { Face, FaceContext } from '../operations/face.ts';
import type { ImageInput } from '../operations/generate.ts';
import { modelsNow } from '../operations/list-models.ts';
import { bodyOf, schemaErrors } from '../operations/request-body.ts';
import { decodeBase64Slices } from '../sliced-base64-decoder.ts';
import { a1111Info, a1111Parameters, jobTimestamp } from './a1111/a1111-answer.ts';
import { a1111Error } from './a1111/a1111-errors.ts';
import {
  a1111Embeddings,
  a1111Loras,
  a1111Models,
  a1111Options,
  a1111Samplers,
  a1111Schedulers,
  a1111Upscalers,
} from './a1111/a1111-listings.ts';
import { A1111Options, checkpointName } from './a1111/a1111-options.ts';
import { pngInfo } from './a1111/a1111-png-info.ts';
import { type A1111Generation, type A1111Mode, fromA1111Body } from './a1111/a1111-request.ts';
import * as schemas from './a1111/a1111-schemas.ts';
import { isRendered, renderBlocking } from './blocking-render.ts';
import { a1111Mask } from './face-masks.ts';

/**
 * AUTOMATIC1111's web UI API, `/sdapi/v1/`, for the tools written against it (webuiapi, Open WebUI,
 * SillyTavern): txt2img and img2img answer synchronously with base64 images, `parameters` and the
 * `info` JSON string; `options` keeps the key's default checkpoint; the listings answer in A1111's
 * item shapes; `progress` and `interrupt` act on the key's own jobs. The key is the password of HTTP
 * Basic auth (A1111's `--api-auth user:password`), or any of the other places easel reads it.
 */

const BASE = '/sdapi/v1';

const ERRORS: RouteDoc['responses'] = {
  401: {
    description: 'Incorrect username or password (the key is the password).',
    schema: schemas.errorAnswer,
  },
  422: { description: 'Bad fields, in FastAPI’s shape.', schema: schemas.validationAnswer },
  429: { description: 'Rate limit exceeded; see Retry-After.', schema: schemas.errorAnswer },
};

function doc(
  method: RouteDoc['method'],
  path: string,
  summary: string,
  extra: Partial<RouteDoc> = {},
): RouteDoc {
  return {
    method,
    url: `${BASE}/${path}`,
    summary,
    auth: true,
    responses: { 200: { description: summary }, ...ERRORS },
    ...extra,
  };
}

export const a1111Face: Face = {
  name: 'a1111',
  title: 'AUTOMATIC1111 web UI API (/sdapi/v1)',
  renderError: (_problem, error) => a1111Error(error),
  register(ctx) {
    const options = new A1111Options(ctx.services.redis, ctx.services.prefix);
    const generation = (mode: A1111Mode) => (request: FastifyRequest) =>
      generateA1111(ctx, options, mode, request);

    ctx.route(
      doc('POST', 'txt2img', 'Text to image (waits for the render)', {
        body: schemas.txt2imgBody,
        responses: {
          200: { description: 'The images, parameters and info.', schema: schemas.imageAnswer },
          ...ERRORS,
          504: { description: 'Not rendered within API_SYNC_FACE_WAIT_MS: cancelled, not charged.' },
        },
      }),
      generation('txt2img'),
    );
    ctx.route(
      doc('POST', 'img2img', 'Image to image, or inpainting with a mask (waits for the render)', {
        body: schemas.img2imgBody,
        responses: {
          200: { description: 'The images, parameters and info.', schema: schemas.imageAnswer },
          ...ERRORS,
          504: { description: 'Not rendered within API_SYNC_FACE_WAIT_MS: cancelled, not charged.' },
        },
      }),
      generation('img2img'),
    );

    ctx.route(
      doc('GET', 'options', 'Settings (sd_model_checkpoint: this key’s default model)'),
      async (request) => a1111Options(await checkpointOf(ctx, options, request.apiKey!.id)),
    );
    ctx.route(
      doc('POST', 'options', 'Change settings: sd_model_checkpoint sets this key’s default model', {
        body: schemas.optionsBody,
      }),
      async (request) => {
        const wanted = bodyOf(request).sd_model_checkpoint;
        if (isAbsent(wanted)) return null;
        const name = typeof wanted === 'string' ? checkpointName(wanted) : '';
        const model = modelsNow(ctx).find((m) => m.id === findModel(ctx.services.registry, name)?.id);
        if (!model?.installed || model.kind === 'upscaler') throw modelNotFound(String(wanted).slice(0, 80));
        await options.setCheckpoint(request.apiKey!.id, model.id);
        return null;
      },
    );

    ctx.route(doc('GET', 'sd-models', 'Installed models'), async () => a1111Models(modelsNow(ctx)));
    ctx.route(doc('GET', 'samplers', 'Samplers, under AUTOMATIC1111’s names'), async () => a1111Samplers());
    ctx.route(doc('GET', 'schedulers', 'Schedules: automatic and karras'), async () => a1111Schedulers());
    ctx.route(doc('GET', 'upscalers', 'Upscalers'), async () => a1111Upscalers(modelsNow(ctx)));
    ctx.route(doc('GET', 'embeddings', 'Textual-inversion embeddings in MODELS_DIR/embeddings'), async () =>
      a1111Embeddings((await listAddOns(ctx.config.MODELS_DIR)).embeddings),
    );
    ctx.route(doc('GET', 'loras', 'LoRAs in MODELS_DIR/loras'), async () =>
      a1111Loras((await listAddOns(ctx.config.MODELS_DIR)).loras),
    );
    ctx.route(doc('GET', 'scripts', 'Scripts (none)'), async () => ({ txt2img: [], img2img: [] }));
    // Listings of what easel does not have (yet), in A1111's shape, so clients that read them at start work.
    for (const [path, summary] of [
      ['sd-vae', 'VAEs (none besides each model’s own)'],
      ['hypernetworks', 'Hypernetworks (none)'],
      ['face-restorers', 'Face restorers (none)'],
      ['prompt-styles', 'Prompt styles (none)'],
      ['latent-upscale-modes', 'Latent upscale modes (none)'],
    ] as const) {
      ctx.route(doc('GET', path, summary), async () => []);
    }
    ctx.route(
      doc('POST', 'refresh-checkpoints', 'Re-read the models (easel reads them live)'),
      async () => null,
    );

    ctx.route(doc('GET', 'progress', 'Progress of this key’s jobs'), async (request) =>
      progressOf(ctx, request),
    );
    ctx.route(doc('POST', 'interrupt', 'Cancel this key’s jobs (not charged)'), async (request) => {
      await interrupt(ctx, request);
      return {};
    });
    ctx.route(doc('POST', 'skip', 'Same as interrupt'), async (request) => {
      await interrupt(ctx, request);
      return {};
    });

    ctx.route(
      doc('POST', 'png-info', 'The generation parameters written into a PNG', {
        body: schemas.pngInfoBody,
        responses: {
          200: { description: 'info, items, parameters.', schema: schemas.pngInfoAnswer },
          ...ERRORS,
        },
      }),
      async (request) => {
        const body = bodyOf(request);
        const value =
          heldValue(body, request.largeValues, 'image') ?? (typeof body.image === 'string' ? body.image : '');
        if (value === '' || (typeof value === 'string' && isAbsent(value))) {
          throw ApiError.validation([{ field: 'image', message: 'image: required; a base64-encoded PNG' }]);
        }
        return pngInfo(await pngBytes(ctx, value));
      },
    );
  },
};

/** The key's own default model, else the server's. */
async function checkpointOf(ctx: FaceContext, options: A1111Options, keyId: string): Promise<string> {
  return (
    (await options.checkpoint(keyId)) ??
    defaultModelId(ctx.config.DEFAULT_MODEL, ctx.services.registry, ctx.config.MODELS_DIR)
  );
}

/**
 * An image field's bytes as sent, not re-encoded: png-info reads the file's own text chunks, which
 * decoding and re-encoding would drop. Base64 or a data URI, decoded in slices.
 */
async function pngBytes(ctx: FaceContext, value: string | LargeValue): Promise<Buffer> {
  const chunks = typeof value === 'string' ? [Buffer.from(value)] : value.chunks;
  const uri = /^\s*data:[^,]*,/.exec(chunks[0]?.toString('latin1', 0, 256) ?? '');
  const decoded = await decodeBase64Slices(chunks, {
    skip: uri ? uri[0].length : 0,
    maxBytes: ctx.config.API_BODY_LIMIT_MB * 1024 * 1024,
  });
  if (!decoded.ok)
    throw ApiError.validation([{ field: 'image', message: 'image: must be a base64-encoded PNG' }]);
  return decoded.bytes;
}

async function generateA1111(
  ctx: FaceContext,
  options: A1111Options,
  mode: A1111Mode,
  request: FastifyRequest,
): Promise<unknown> {
  const body = bodyOf(request);
  const errors = schemaErrors(request);
  const generation = fromA1111Body(body, mode);
  const { raw } = generation;
  if (typeof raw.model === 'string') raw.model = checkpointName(raw.model);
  else if (raw.model === undefined) raw.model = await options.checkpoint(request.apiKey!.id);
  if (raw.model === undefined) delete raw.model;

  // A1111's job_timestamp is when the job started: here, when the request arrived.
  const createdAt = Date.now();
  const images = await imagesOf(ctx, request, body, generation);
  const outcome = await renderBlocking(ctx, {
    request,
    mode: raw.mode ?? mode,
    raw,
    images,
    errors,
    body,
  });
  const parameters = a1111Parameters(body, generation.includeInitImages);
  if (!isRendered(outcome)) {
    if (!outcome.cancelled) throw ApiError.of(500, 'The render failed', outcome.message);
    // Interrupted, as A1111 answers it: no images (easel keeps no partial ones); nothing was charged.
    return {
      images: [],
      parameters,
      info: JSON.stringify({
        ...a1111Info({ request: outcome.data.request, infotexts: [], createdAt }),
        interrupted: true,
      }),
    };
  }
  const infotexts = outcome.pngs.map((png) => readPngText(png).parameters ?? '');
  return {
    images: generation.sendImages ? outcome.pngs.map((png) => png.toString('base64')) : [],
    parameters,
    info: JSON.stringify(
      a1111Info({ request: outcome.data.request, result: outcome.result, infotexts, createdAt }),
    ),
  };
}

/**
 * `init_images[0]` and `mask` as the generate operation's inputs. A mask that asks for inversion or
 * blur (A1111 blurs by 4 pixels unless told otherwise) is decoded and redrawn first, unless the face
 * already found a bad field, then handed on as a data URI.
 */
async function imagesOf(
  ctx: FaceContext,
  request: FastifyRequest,
  body: Record<string, unknown>,
  generation: A1111Generation,
): Promise<ImageInput[]> {
  if (generation.initImage === undefined) return [];
  const images: ImageInput[] = [
    {
      field: 'init_images',
      role: 'initImage',
      value: heldItem(body, request.largeValues, 'init_images', 0) ?? generation.initImage,
    },
  ];
  if (generation.mask === undefined) return images;
  const mask = heldValue(body, request.largeValues, 'mask') ?? generation.mask;
  if (!generation.invertMask && generation.maskBlur < 0.3) {
    images.push({ field: 'mask', role: 'maskImage', value: mask });
    return images;
  }
  // Bad fields are answered before any image is decoded.
  if (generation.raw.errors.length > 0) {
    images.push({ field: 'mask', role: 'maskImage', value: mask });
    return images;
  }
  const decoded = await readImageInput('mask', mask, {
    fetch: { allowPrivate: ctx.config.API_ALLOW_PRIVATE_FETCH, ...ctx.fetch },
    maxBytes: ctx.config.API_BODY_LIMIT_MB * 1024 * 1024,
    maxPixels: ctx.config.MAX_PIXELS * 4,
  });
  const redrawn = await a1111Mask(decoded.png, { invert: generation.invertMask, blur: generation.maskBlur });
  images.push({
    field: 'mask',
    role: 'maskImage',
    value: `data:image/png;base64,${redrawn.toString('base64')}`,
  });
  return images;
}

/** The key's open jobs, newest state first: A1111 reports one job at a time, the one rendering. */
async function progressOf(ctx: FaceContext, request: FastifyRequest): Promise<Record<string, unknown>> {
  const key = request.apiKey!;
  const ids = await ctx.services.credits.pending(keyMember(key.id, key.name), 50);
  const views = (await Promise.all(ids.map((id) => ctx.services.jobs.get(id)))).filter(
    (v) => v !== undefined && (v.state === 'active' || v.state === 'waiting' || v.state === 'delayed'),
  );
  const current = views.find((v) => v!.state === 'active') ?? views[0];
  const step = current?.progress?.step ?? 0;
  const steps = current?.progress?.total ?? current?.data.request.steps ?? 0;
  const state = {
    skipped: false,
    interrupted: false,
    stopping_generation: false,
    job: current ? current.jobId : '',
    job_count: views.length,
    job_timestamp: current ? jobTimestamp(current.createdAt) : '0',
    job_no: 0,
    sampling_step: step,
    sampling_steps: steps,
  };
  if (!current) return { progress: 0, eta_relative: 0, state, current_image: null, textinfo: null };
  return {
    // A1111's "avoid dividing by zero" floor, then the share of steps done.
    progress: Math.min(1, 0.01 + (steps > 0 ? step / steps : 0)),
    eta_relative: Math.max(0, current.etaSeconds ?? 0),
    state,
    current_image: null,
    textinfo: current.state === 'active' ? `Rendering step ${step} of ${steps}` : 'Waiting in the queue',
  };
}

/** Cancels every open job of the key (each refunded); A1111's interrupt stops what is rendering. */
async function interrupt(ctx: FaceContext, request: FastifyRequest): Promise<void> {
  const key = request.apiKey!;
  const member = keyMember(key.id, key.name);
  const ids = await ctx.services.credits.pending(member, 50);
  await Promise.all(ids.map((id) => ctx.services.jobs.cancel(id, member).catch(() => undefined)));
}
