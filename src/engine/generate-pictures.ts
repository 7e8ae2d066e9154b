import { CodedError } from '../errors/coded-error.ts';
import { UserError } from '../errors/user-error.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { isInstalled } from '../models/model-folder.ts';
import { findModel, type ModelEntry, type Registry } from '../models/registry.ts';
import { COUNT_MAX } from '../request/limits.ts';
import { maskSizeProblem, upscaleOutputProblem } from '../request/output-size.ts';
import type { GenerationRequest, HiresFix } from '../request/types.ts';
import { type RequestAddOns, requestAddOns } from './add-ons/add-on-check.ts';
import type { AppliedAddOns } from './add-ons/add-on-model.ts';
import { withClipSkip } from './clip-skip.ts';
import { type DenoiseRequest, denoise, type InpaintConditioning } from './denoise.ts';
import type { DenoiseFunction } from './denoise-rendezvous.ts';
import type { DiffusionModel } from './diffusion-model.ts';
import { resizeLatents } from './hires-fix.ts';
import {
  decodeImage,
  decodeMask,
  planarToRgb,
  type RgbImage,
  resizeGrey,
  resizeRgb,
  rgbToPlanar,
} from './image-io.ts';
import {
  binarize,
  blankMasked,
  latentMask,
  type Mask,
  panCanvas,
  pasteKept,
  regionMask,
  zoomOutCanvas,
} from './masks.ts';
import type { ModelStore } from './model-store.ts';
import { createScheduler } from './schedulers/index.ts';
import { encodeText, type RenderSize, type TextConditioning } from './text-conditioning.ts';
import { upscaleTiled } from './tiled-upscale.ts';
import { decodeLatents, encodePicture } from './vae.ts';

export interface PictureSource {
  /** The bytes of an input image (an artifact id of the request). */
  load(artifactId: string, field: string): Promise<Buffer>;
}

export interface GenerateOptions {
  store: ModelStore;
  catalog: Registry;
  images: PictureSource;
  maxPixels: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Accumulates time inside the UNet's session.run (benchmark). */
  unetTime?: { ms: number };
  /** Runs the denoising; a batch's renders share one (src/engine/render-batch.ts). */
  denoise?: DenoiseFunction;
  /** The job's logger (LoRA merges and partial matches are logged); silent when absent. */
  logger?: Logger;
  /** What one frame of a clip changes in the render (src/engine/video/). */
  frame?: FrameConditioning;
}

/** A clip frame's departures from a plain render; both are asked per model (a refiner has its own). */
export interface FrameConditioning {
  /** Standard normal starting noise for one picture, [C*h*w] (a seed walk). */
  startNoise?: (channels: number, latentHeight: number, latentWidth: number) => Float32Array;
  /** The denoiser's conditioning instead of the encoded prompt (a prompt morph's blend). */
  text?: (model: DiffusionModel, size: RenderSize) => Promise<TextConditioning>;
}

const SILENT = createLogger('silent');

/** The LoRAs and embeddings a render used, with how well each LoRA matched the model. */
export type UsedAddOns = RequestAddOns & AppliedAddOns;

export interface GeneratedPictures {
  /** At display size, one per image of the request; image i used seed + i. */
  pictures: RgbImage[];
  seeds: number[];
  model: DiffusionModel | undefined;
  provider: string;
  loadMs: number;
  truncatedWords: string[];
  /** The strength actually used, for the PNG's parameters. */
  strength?: number;
  addOns?: UsedAddOns;
  /** What the member should know about the result (a LoRA that matched only part of the model). */
  warnings: string[];
}

/** img2img-style detail pass after a plain Lanczos upscale (UPSCALER=lanczos and no network installed). */
const UPSCALE_DETAIL_STRENGTH = 0.3;

function invalid(field: string, message: string): UserError {
  return UserError.invalid([{ field, message: `${field}: ${message}` }]);
}

function modelEntry(catalog: Registry, id: string): ModelEntry {
  const entry = findModel(catalog, id);
  if (entry === undefined)
    throw new UserError('model-not-found', `Model "${id}" is not known to this server.`);
  return entry;
}

/** The latent size for a display size: display / renderScale / VAE factor, to the UNet's multiple. */
function latentSize(
  entry: ModelEntry,
  model: DiffusionModel,
  width: number,
  height: number,
): { latentWidth: number; latentHeight: number } {
  const m = entry.latentMultiple;
  const side = (display: number) =>
    Math.max(m, Math.round(display / entry.renderScale / model.vaeScaleFactor / m) * m);
  return { latentWidth: side(width), latentHeight: side(height) };
}

/** Some exports fix the UNet's spatial size: other sizes would fail inside onnxruntime, so say so first. */
function checkFixedSize(
  entry: ModelEntry,
  model: DiffusionModel,
  latentWidth: number,
  latentHeight: number,
): void {
  const shape = model.denoiser.inputs.sample!.shape;
  const fixedH = shape[2];
  const fixedW = shape[3];
  if (
    (typeof fixedH === 'number' && fixedH !== latentHeight) ||
    (typeof fixedW === 'number' && fixedW !== latentWidth)
  ) {
    const scale = model.vaeScaleFactor * entry.renderScale;
    const w = typeof fixedW === 'number' ? fixedW * scale : latentWidth * scale;
    const h = typeof fixedH === 'number' ? fixedH * scale : latentHeight * scale;
    throw invalid('width', `${entry.id} renders only ${w}x${h}; ask for that size`);
  }
}

function checkStrength(strength: number | undefined): void {
  if (strength !== undefined && !(Number.isFinite(strength) && strength >= 0 && strength <= 1)) {
    throw invalid('strength', `must be a number from 0 to 1 (got ${strength})`);
  }
}

/**
 * Renders a request in any mode and returns its pictures at display size. Everything here is
 * platform-neutral; encoding, screening and storing happen in the caller.
 */
export async function generatePictures(
  request: GenerationRequest,
  options: GenerateOptions,
): Promise<GeneratedPictures> {
  checkStrength(request.strength);
  const entry = modelEntry(options.catalog, request.model);
  if (request.mode === 'upscale') return upscale(request, entry, options);
  if (entry.kind === 'upscaler') {
    throw invalid('model', `${entry.id} is an upscaler; it can only be used to upscale`);
  }
  const needsImage = request.mode !== 'txt2img';
  const { model, loadMs } = await options.store.diffusionModel(entry, needsImage);
  const seeds = Array.from({ length: request.count }, (_, i) => request.seed + i);
  const addOns = await requestAddOns(request, options.store.settings.modelsDir, model.layout.family);
  const logger = options.logger ?? SILENT;
  const base = request.clipSkip !== undefined ? await withClipSkip(model, request.clipSkip) : model;
  return options.store.withAddOns(base, addOns, logger, async (withAddOns, applied) => {
    const out = await renderMode(request, { entry, model: withAddOns, seeds, options, loadMs });
    out.addOns = { ...addOns, ...applied };
    for (const report of applied.reports) {
      if (report.matched < report.total)
        out.warnings.push(
          `LoRA "${report.name}" patched ${report.matched} of its ${report.total} layers; the rest match nothing in ${entry.id}`,
        );
    }
    return out;
  });
}

async function renderMode(request: GenerationRequest, common: Common): Promise<GeneratedPictures> {
  const { options } = common;
  switch (request.mode) {
    case 'txt2img':
      return request.hires !== undefined
        ? inGroups(common, (group) => hiresDiffuse(request, request.hires!, group))
        : diffuse(request, common, { strength: 1 });
    case 'img2img':
    case 'variation': {
      const init = await loadInit(request, options);
      const strength = request.strength ?? (request.mode === 'variation' ? 0.65 : 0.75);
      return diffuse(request, common, { strength, init });
    }
    case 'inpaint': {
      const init = await loadInit(request, options);
      const mask = await loadMask(request, init, options);
      return diffuse(request, common, { strength: request.strength ?? 1, init, mask });
    }
    case 'outpaint': {
      const init = await loadInit(request, options);
      const { canvas, mask } =
        request.pan !== undefined
          ? await panCanvas(init.original, request.width, request.height, request.pan)
          : await zoomOutCanvas(init.display, request.zoomOut ?? 2);
      return diffuse(request, common, {
        strength: request.strength ?? 1,
        init: { display: canvas, original: canvas },
        mask,
      });
    }
    default:
      throw new CodedError('engine-failed', `unknown mode ${String(request.mode)}`);
  }
}

interface InitPicture {
  /** The input at the request's display size (cover-cropped). */
  display: RgbImage;
  /** As uploaded, before resizing: masks must match it. */
  original: RgbImage;
}

async function loadInit(request: GenerationRequest, options: GenerateOptions): Promise<InitPicture> {
  if (request.initImage === undefined)
    throw invalid('initImage', `required for ${request.mode}: attach an image`);
  const original = decodeImage(
    await options.images.load(request.initImage.artifactId, 'initImage'),
    'initImage',
  );
  const decoded = await original;
  return { original: decoded, display: await resizeRgb(decoded, request.width, request.height, 'cover') };
}

async function loadMask(
  request: GenerationRequest,
  init: InitPicture,
  options: GenerateOptions,
): Promise<Mask> {
  if (request.maskImage !== undefined) {
    const mask = await decodeMask(
      await options.images.load(request.maskImage.artifactId, 'maskImage'),
      'maskImage',
    );
    const mismatch = maskSizeProblem(mask, init.original);
    if (mismatch !== undefined) throw invalid('maskImage', mismatch);
    const data = await resizeGrey(mask, request.width, request.height, 'cover');
    return binarize({ data, width: request.width, height: request.height });
  }
  if (request.region !== undefined) return regionMask(request.region, request.width, request.height);
  throw invalid('maskImage', 'inpainting needs a mask image or a region');
}

interface Common {
  entry: ModelEntry;
  model: DiffusionModel;
  seeds: number[];
  options: GenerateOptions;
  loadMs: number;
}

/**
 * What a flow-matching schedule with `use_dynamic_shifting` needs (SD 3.5's): the transformer's
 * token count, (h / patch) * (w / patch), as StableDiffusion3Pipeline.__call__ computes
 * `image_seq_len` for calculate_shift.
 */
function flowContext(model: DiffusionModel, size: { latentWidth: number; latentHeight: number }) {
  if (model.denoiser.part !== 'transformer') return {};
  const patch = typeof model.denoiserConfig.patch_size === 'number' ? model.denoiserConfig.patch_size : 2;
  return { imageSeqLen: Math.floor(size.latentHeight / patch) * Math.floor(size.latentWidth / patch) };
}

interface DiffuseMode {
  strength: number;
  init?: InitPicture;
  mask?: Mask;
}

/** The denoising of one request on one model: its latents [n, C, h, w] and the text's cut words. */
async function denoiseLatents(
  request: GenerationRequest,
  model: DiffusionModel,
  seeds: number[],
  options: GenerateOptions,
  size: { latentWidth: number; latentHeight: number },
  mode: DiffuseMode & { initLatents?: Float32Array },
) {
  const { latentWidth, latentHeight } = size;
  const renderW = latentWidth * model.vaeScaleFactor;
  const renderH = latentHeight * model.vaeScaleFactor;
  const renderSize = { width: renderW, height: renderH };
  const text =
    options.frame?.text !== undefined
      ? await options.frame.text(model, renderSize)
      : await encodeText(model, request.prompt, request.negativePrompt, renderSize);
  const denoiseRequest: DenoiseRequest = {
    model,
    scheduler: createScheduler(request.sampler, model.schedulerConfig, flowContext(model, size)),
    steps: request.steps,
    strength: mode.strength,
    guidance: request.guidance,
    seeds,
    latentWidth,
    latentHeight,
    text,
  };
  if (options.signal !== undefined) denoiseRequest.signal = options.signal;
  if (options.onProgress !== undefined) denoiseRequest.onStep = options.onProgress;
  if (options.unetTime !== undefined) denoiseRequest.unetTime = options.unetTime;
  if (mode.initLatents !== undefined) denoiseRequest.initLatents = mode.initLatents;
  if (options.frame?.startNoise !== undefined)
    denoiseRequest.startNoise = options.frame.startNoise(model.latentChannels, latentHeight, latentWidth);

  if (mode.init !== undefined) {
    const small = await resizeRgb(mode.init.display, renderW, renderH, 'fill');
    const planar = rgbToPlanar(small);
    denoiseRequest.initLatents = await encodePicture(model, planar, renderH, renderW);
    if (mode.mask !== undefined) {
      const renderMask = binarize({
        data: await resizeGrey(mode.mask, renderW, renderH, 'fill'),
        width: renderW,
        height: renderH,
      });
      const inpaint: InpaintConditioning = { mask: latentMask(renderMask, latentWidth, latentHeight) };
      if (model.unetInChannels !== model.latentChannels) {
        inpaint.maskedImageLatents = await encodePicture(
          model,
          blankMasked(planar, renderMask),
          renderH,
          renderW,
        );
      }
      denoiseRequest.inpaint = inpaint;
    }
  }

  if (model.unetInChannels !== model.latentChannels && denoiseRequest.inpaint === undefined) {
    // An inpainting UNet asked to draw freely: everything is masked and nothing of a picture is known.
    denoiseRequest.inpaint = {
      mask: new Float32Array(latentWidth * latentHeight).fill(1),
      maskedImageLatents: await encodePicture(
        model,
        new Float32Array(3 * renderW * renderH),
        renderH,
        renderW,
      ),
    };
  }
  const latents = await (options.denoise ?? denoise)(denoiseRequest);
  return { latents: latents.data, truncatedWords: text.truncatedWords };
}

/**
 * The SDXL refiner's share of the work as a second stage: diffusers' base + refiner recipe hands
 * the base's latents (`output_type="latent"`) to StableDiffusionXLImg2ImgPipeline, whose
 * prepare_latents takes 4-channel input as latents as they are, at its default strength 0.3.
 */
const REFINER_STRENGTH = 0.3;

/** The installed refiner an entry names, loaded; undefined when the entry has none or it is not installed. */
async function loadRefiner(entry: ModelEntry, options: GenerateOptions) {
  if (entry.refiner === undefined) return undefined;
  const refinerEntry = findModel(options.catalog, entry.refiner);
  if (refinerEntry === undefined || !isInstalled(refinerEntry, options.store.settings.modelsDir))
    return undefined;
  const { model, loadMs } = await options.store.diffusionModel(refinerEntry, false);
  if (model.layout.family !== 'sdxl-refiner' || model.latentChannels !== 4) {
    throw new CodedError(
      'model-invalid',
      `${entry.id}'s refiner ${refinerEntry.id} is a ${model.layout.family} model, not an SDXL refiner`,
    );
  }
  return { model, loadMs };
}

/**
 * Renders the request's images COUNT_MAX at a time (an API request may ask for up to
 * API_COUNT_MAX): a batch's memory is that of a chat request whatever the count. Image i keeps seed
 * + i, and progress counts the steps of every group.
 */
async function inGroups(
  common: Common,
  render: (group: Common) => Promise<GeneratedPictures>,
): Promise<GeneratedPictures> {
  const { seeds, options } = common;
  if (seeds.length <= COUNT_MAX) return render(common);
  const groups: number[][] = [];
  for (let i = 0; i < seeds.length; i += COUNT_MAX) groups.push(seeds.slice(i, i + COUNT_MAX));
  let result: GeneratedPictures | undefined;
  for (const [g, group] of groups.entries()) {
    const onProgress = options.onProgress;
    const groupOptions: GenerateOptions =
      onProgress === undefined
        ? options
        : { ...options, onProgress: (done, total) => onProgress(g * total + done, groups.length * total) };
    const part = await render({ ...common, seeds: group, options: groupOptions });
    if (result === undefined) result = { ...part, seeds: [...seeds] };
    else result.pictures.push(...part.pictures);
  }
  return result!;
}

function diffuse(request: GenerationRequest, common: Common, mode: DiffuseMode): Promise<GeneratedPictures> {
  return inGroups(common, (group) => diffuseGroup(request, group, mode));
}

async function diffuseGroup(
  request: GenerationRequest,
  { entry, model, seeds, options, loadMs }: Common,
  mode: DiffuseMode,
): Promise<GeneratedPictures> {
  const size = latentSize(entry, model, request.width, request.height);
  checkFixedSize(entry, model, size.latentWidth, size.latentHeight);
  const refiner = await loadRefiner(entry, options);
  if (refiner !== undefined) checkFixedSize(entry, refiner.model, size.latentWidth, size.latentHeight);
  let { latents, truncatedWords } = await denoiseLatents(request, model, seeds, options, size, mode);
  let decoder = model;
  if (refiner !== undefined) {
    latents = (
      await denoiseLatents(request, refiner.model, seeds, options, size, {
        strength: REFINER_STRENGTH,
        initLatents: latents,
      })
    ).latents;
    decoder = refiner.model;
  }
  const decoded = await decodeLatents(decoder, latents, seeds.length, size.latentHeight, size.latentWidth);
  const pictures: RgbImage[] = [];
  for (let i = 0; i < seeds.length; i++) {
    const rendered = planarToRgb(decoded.pictures[i]!, 0, decoded.width, decoded.height);
    let display = await resizeRgb(rendered, request.width, request.height, 'fill');
    if (mode.mask !== undefined && mode.init !== undefined)
      display = await pasteKept(mode.init.display, display, mode.mask);
    pictures.push(display);
  }
  const out: GeneratedPictures = {
    pictures,
    seeds,
    model,
    provider: model.provider,
    loadMs: loadMs + (refiner?.loadMs ?? 0),
    truncatedWords,
    warnings: [],
  };
  if (mode.init !== undefined) out.strength = mode.strength;
  return out;
}

/**
 * AUTOMATIC1111's hi-res fix: the first pass at the request's size, its result enlarged (the
 * latents themselves, or the decoded pictures by Lanczos or the upscaler network and encoded
 * again), then a second pass at the target size with its own steps and denoising strength.
 */
async function hiresDiffuse(
  request: GenerationRequest,
  hires: HiresFix,
  { entry, model, seeds, options, loadMs }: Common,
): Promise<GeneratedPictures> {
  const first = latentSize(entry, model, request.width, request.height);
  const target = latentSize(entry, model, hires.width, hires.height);
  checkFixedSize(entry, model, first.latentWidth, first.latentHeight);
  checkFixedSize(entry, model, target.latentWidth, target.latentHeight);
  // One progress bar over both passes: the second pass's steps follow the first's.
  const firstSteps = request.steps;
  const total = firstSteps + hires.steps;
  const passOptions = (offset: number, span: number): GenerateOptions => {
    const { onProgress } = options;
    if (onProgress === undefined) return options;
    return {
      ...options,
      onProgress: (done, of) => onProgress(offset + Math.round((done / of) * span), total),
    };
  };
  const { latents, truncatedWords } = await denoiseLatents(
    request,
    model,
    seeds,
    passOptions(0, firstSteps),
    first,
    {
      strength: 1,
    },
  );
  let init: Float32Array;
  if (hires.upscaler === 'latent' || hires.upscaler === 'latent-nearest') {
    const mode = hires.upscaler === 'latent' ? 'bilinear' : 'nearest';
    init = resizeLatents(latents, seeds.length, model.latentChannels, first, target, mode);
  } else {
    const decoded = await decodeLatents(model, latents, seeds.length, first.latentHeight, first.latentWidth);
    const renderW = target.latentWidth * model.vaeScaleFactor;
    const renderH = target.latentHeight * model.vaeScaleFactor;
    const network =
      hires.upscaler === 'upscaler' ? await upscalerNetwork(options, undefined, hires.scale) : undefined;
    const encoded: Float32Array[] = [];
    for (let i = 0; i < seeds.length; i++) {
      let picture = planarToRgb(decoded.pictures[i]!, 0, decoded.width, decoded.height);
      if (network !== undefined)
        picture = await upscaleTiled(network.session, picture, { tile: 192, overlap: network.overlap });
      const resized = await resizeRgb(picture, renderW, renderH, 'fill');
      encoded.push(await encodePicture(model, rgbToPlanar(resized), renderH, renderW));
    }
    init = new Float32Array(encoded.reduce((n, e) => n + e.length, 0));
    for (const [i, e] of encoded.entries()) init.set(e, i * e.length);
  }
  const second = await denoiseLatents(
    { ...request, steps: hires.steps },
    model,
    seeds,
    passOptions(firstSteps, hires.steps),
    target,
    { strength: hires.denoise, initLatents: init },
  );
  const decoded = await decodeLatents(
    model,
    second.latents,
    seeds.length,
    target.latentHeight,
    target.latentWidth,
  );
  const pictures: RgbImage[] = [];
  for (let i = 0; i < seeds.length; i++) {
    const rendered = planarToRgb(decoded.pictures[i]!, 0, decoded.width, decoded.height);
    pictures.push(await resizeRgb(rendered, hires.width, hires.height, 'fill'));
  }
  return { pictures, seeds, model, provider: model.provider, loadMs, truncatedWords, warnings: [] };
}

/** The installed upscaler network (or the built-in ESRGAN for the factor); undefined for Lanczos. */
async function upscalerNetwork(options: GenerateOptions, named: ModelEntry | undefined, factor: number) {
  const installed = await options.store.upscaler(named);
  const builtin =
    installed === undefined ? await options.store.builtinUpscaler(factor > 2 ? 4 : 2) : undefined;
  const network = installed ?? builtin;
  if (network === undefined) return undefined;
  // Context around each tile covers the network's receptive field, so tiles join without seams; capped
  // for ESRGAN thick, whose 154 px theoretical radius would multiply the work while tiles with 48 px
  // of context already match the whole-picture result to 100 dB.
  const overlap = Math.min(48, Math.max(16, builtin?.receptiveRadius ?? 0));
  return { session: network.session, provider: network.provider, overlap };
}

async function upscale(
  request: GenerationRequest,
  entry: ModelEntry,
  options: GenerateOptions,
): Promise<GeneratedPictures> {
  const factor = request.upscale ?? 2;
  if (request.initImage === undefined) throw invalid('initImage', 'required for upscale: attach an image');
  const source = await decodeImage(
    await options.images.load(request.initImage.artifactId, 'initImage'),
    'initImage',
  );
  const tooLarge = upscaleOutputProblem(source, factor, options.maxPixels);
  if (tooLarge !== undefined) throw invalid('upscale', tooLarge);
  const width = source.width * factor;
  const height = source.height * factor;
  const loading = performance.now();
  // An installed Real-ESRGAN model wins; then the built-in ESRGAN (UPSCALER), unless it is `lanczos`.
  const network = await upscalerNetwork(options, entry.kind === 'upscaler' ? entry : undefined, factor);
  const upscalerLoadMs = Math.round(performance.now() - loading);
  if (network !== undefined) {
    const tileOptions: Parameters<typeof upscaleTiled>[2] = { tile: 192, overlap: network.overlap };
    if (options.signal !== undefined) tileOptions.signal = options.signal;
    if (options.onProgress !== undefined) tileOptions.onTile = options.onProgress;
    const big = await upscaleTiled(network.session, source, tileOptions);
    const picture = await resizeRgb(big, width, height, 'fill');
    return {
      pictures: [picture],
      seeds: [request.seed],
      model: undefined,
      provider: network.provider,
      loadMs: upscalerLoadMs,
      truncatedWords: [],
      warnings: [],
    };
  }
  // No upscaler network: Lanczos, then a light img2img pass that redraws detail at the new size.
  const { model, loadMs } = await options.store.diffusionModel(entry, true);
  const enlarged = await resizeRgb(source, width, height, 'fill');
  const detailed = { ...request, width, height, count: 1 };
  return diffuse(
    detailed,
    { entry, model, seeds: [request.seed], options, loadMs },
    {
      strength: UPSCALE_DETAIL_STRENGTH,
      init: { display: enlarged, original: enlarged },
    },
  );
}
