import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { Config } from '../config/schema.ts';
import { CodedError } from '../errors/coded-error.ts';
import { UserError } from '../errors/user-error.ts';
import type { Logger } from '../log/logger.ts';
import { isInstalled, requireModelFolder } from '../models/model-folder.ts';
import { findModel, type ModelEntry, type Registry } from '../models/registry.ts';
import type { GenerateJobData, GenerateResult, NsfwVerdict, RenderedImage } from '../queue/job-data.ts';
import type { JobProgress } from '../queue/job-view.ts';
import type { GenerationRequest, HiresUpscaler } from '../request/types.ts';
import { addOnInfotext } from './add-ons/add-on-infotext.ts';
import type { DenoiseFunction } from './denoise-rendezvous.ts';
import type { DiffusionModel } from './diffusion-model.ts';
import { generatePictures } from './generate-pictures.ts';
import { gridPng } from './image-grid.ts';
import { encodePng } from './image-io.ts';
import { formatInfotext } from './infotext.ts';
import type { ModelStore } from './model-store.ts';
import { classifierScreen, type NsfwScreen, safetyCheckerScreen } from './nsfw-screen.ts';
import { type NsfwjsThresholds, nsfwjsScreen, nsfwjsThresholds } from './nsfwjs-screen.ts';
import { withPngText } from './png-text.ts';
import { renderClip } from './video/render-clip.ts';

export interface RendererSettings {
  maxPixels: number;
  /** `off` disables screening everywhere (NSFW_SCREENING=off). */
  nsfwScreening: 'on' | 'off';
  /** For MODELS_DIR/nsfw-classifier. */
  nsfwThreshold: number;
  /** For the built-in nsfwjs classifier (NSFW_PORN/HENTAI/SEXY_THRESHOLD). */
  nsfwjsThresholds: NsfwjsThresholds;
}

export function rendererSettings(config: Config): RendererSettings {
  return {
    maxPixels: config.MAX_PIXELS,
    nsfwScreening: config.NSFW_SCREENING,
    nsfwThreshold: config.NSFW_THRESHOLD,
    nsfwjsThresholds: nsfwjsThresholds(config),
  };
}

export interface RendererDeps {
  store: ModelStore;
  catalog: Registry;
  artifacts: ArtifactStore;
  settings: RendererSettings;
}

/** What the lifecycle wrapper (workers/generate.ts) hands a render. */
export interface RenderJobContext {
  jobId: string;
  signal: AbortSignal;
  reportProgress(progress: JobProgress): Promise<void>;
  logger: Logger;
  /** Set when the job renders in a batch: its denoising meets the others' there. */
  denoise?: DenoiseFunction;
}

/** Progress is written to Redis; a few updates a second are plenty for a status message. */
const PROGRESS_INTERVAL_MS = 500;

function throttledProgress(ctx: RenderJobContext): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (done < total && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    // A rejection means the job was cancelled; the render notices through its signal.
    ctx.reportProgress({ step: done, total }).catch(() => {});
  };
}

/** Screening is needed unless it is off, or the model cannot draw anything that needs it. */
function screeningNeeded(entry: ModelEntry, settings: RendererSettings): boolean {
  return settings.nsfwScreening === 'on' && entry.nsfwScreening !== 'not-needed';
}

export async function screenerFor(
  deps: RendererDeps,
  entry: ModelEntry,
  model: DiffusionModel | undefined,
): Promise<NsfwScreen | undefined> {
  if (!screeningNeeded(entry, deps.settings)) return undefined;
  if (model?.safetyChecker !== undefined) return safetyCheckerScreen(model.safetyChecker);
  const classifier = await deps.store.nsfwClassifier();
  if (classifier !== undefined) return classifierScreen(classifier, deps.settings.nsfwThreshold);
  const builtin = await deps.store.builtinClassifier();
  if (builtin !== undefined) return nsfwjsScreen(builtin.session, deps.settings.nsfwjsThresholds);
  throw noChecker(entry, deps.store);
}

function noChecker(entry: ModelEntry, store: ModelStore): CodedError {
  const problem = store.builtinClassifierProblem();
  const builtin =
    problem !== undefined ? `the built-in classifier cannot be used (${problem})` : 'NSFW_CLASSIFIER=none';
  return new CodedError(
    'model-missing',
    `model "${entry.id}" needs NSFW screening but has no safety_checker/model.onnx, no ` +
      `nsfw-classifier is installed in MODELS_DIR and ${builtin} (or set NSFW_SCREENING=off)`,
  );
}

/**
 * The worker's start-up check: every installed model that needs screening can be screened, unless
 * screening is off. Returns the problems (empty when ready).
 */
export function screeningProblems(
  store: ModelStore,
  catalog: Registry,
  settings: RendererSettings,
): string[] {
  return catalog.models
    .filter((entry) => entry.kind !== 'upscaler' && screeningNeeded(entry, settings))
    .filter((entry) => isInstalled(entry, store.settings.modelsDir) && !store.hasNsfwChecker(entry))
    .map((entry) => noChecker(entry, store).message);
}

/** How A1111 names the hi-res fix's upscalers in its infotext. */
const HIRES_UPSCALER_NAMES: Record<HiresUpscaler, string> = {
  latent: 'Latent',
  'latent-nearest': 'Latent (nearest)',
  lanczos: 'Lanczos',
  upscaler: 'ESRGAN',
};

export function infotextExtras(request: GenerationRequest): Record<string, string | number> {
  const extra: Record<string, string | number> = {};
  if (request.mode !== 'txt2img') extra.Mode = request.mode;
  if (request.zoomOut !== undefined) extra['Zoom out'] = request.zoomOut;
  if (request.pan !== undefined) extra.Pan = request.pan;
  if (request.upscale !== undefined) extra.Upscale = request.upscale;
  if (request.hires !== undefined) {
    extra['Hires upscale'] = request.hires.scale;
    extra['Hires steps'] = request.hires.steps;
    extra['Hires upscaler'] = HIRES_UPSCALER_NAMES[request.hires.upscaler];
  }
  return extra;
}

/**
 * The engine's part of a generate job: render the request, screen each picture, store the PNGs
 * (with their parameters) and a grid in the artifact store, and describe them. Throws `UserError`s
 * for bad input and coded errors for broken models; the lifecycle makes both final and refunds.
 * Artifacts of a render that fails half-way are deleted.
 */
export function createRenderer(deps: RendererDeps) {
  return async function render(data: GenerateJobData, ctx: RenderJobContext): Promise<GenerateResult> {
    const started = performance.now();
    const { request } = data;
    const entry = findModel(deps.catalog, request.model);
    if (entry === undefined)
      throw new UserError('model-not-found', `Model "${request.model}" is not known to this server.`);
    // Refuse before rendering, not after: a model that is not there, or pictures that could not be screened.
    if (entry.kind !== 'upscaler' && request.mode !== 'upscale') {
      requireModelFolder(
        entry,
        deps.store.settings.modelsDir,
        request.mode !== 'txt2img' || request.video?.mode === 'drift',
      );
    }
    if (screeningNeeded(entry, deps.settings) && !deps.store.hasNsfwChecker(entry)) {
      throw noChecker(entry, deps.store);
    }
    if (request.video !== undefined) return renderClip(deps, entry, request, ctx, started);
    const stored: string[] = [];
    try {
      const generated = await generatePictures(request, {
        store: deps.store,
        catalog: deps.catalog,
        maxPixels: deps.settings.maxPixels,
        signal: ctx.signal,
        onProgress: throttledProgress(ctx),
        ...(ctx.denoise !== undefined ? { denoise: ctx.denoise } : {}),
        logger: ctx.logger,
        images: {
          load: async (artifactId, field) => {
            const artifact = await deps.artifacts.get(artifactId);
            if (artifact === undefined) {
              throw UserError.invalid([
                { field, message: `${field}: the image is no longer available; send it again` },
              ]);
            }
            return artifact.bytes;
          },
        },
      });
      let model = generated.model;
      if (model === undefined && entry.kind !== 'upscaler' && screeningNeeded(entry, deps.settings)) {
        // Upscaled by a network: screen with the named model's own checker when it has one.
        model = (await deps.store.diffusionModel(entry, false).catch(() => undefined))?.model;
      }
      const screen = await screenerFor(deps, entry, model);
      const addOns = await addOnInfotext(generated.addOns);
      // Screen and encode everything before storing anything: most failures then leave nothing behind.
      const encoded: {
        bytes: Buffer;
        width: number;
        height: number;
        seed: number;
        nsfw: NsfwVerdict | null;
      }[] = [];
      for (let i = 0; i < generated.pictures.length; i++) {
        const picture = generated.pictures[i]!;
        const seed = generated.seeds[i]!;
        const nsfw = screen !== undefined ? await screen(picture) : null;
        const parameters = formatInfotext({
          ...addOns,
          prompt: request.prompt,
          negativePrompt: request.negativePrompt,
          steps: request.steps,
          sampler: request.sampler,
          guidance: request.guidance,
          seed,
          // A1111 records the first pass's size, the hi-res fix's scale beside it.
          width: request.hires !== undefined ? request.width : picture.width,
          height: request.hires !== undefined ? request.height : picture.height,
          model: request.model,
          ...(generated.strength !== undefined ? { strength: generated.strength } : {}),
          ...(request.hires !== undefined ? { strength: request.hires.denoise } : {}),
          ...(request.clipSkip !== undefined ? { clipSkip: request.clipSkip } : {}),
          extra: infotextExtras(request),
        });
        const bytes = withPngText(await encodePng(picture), 'parameters', parameters);
        encoded.push({ bytes, width: picture.width, height: picture.height, seed, nsfw });
      }
      const grid = encoded.length > 1 ? await gridPng(encoded) : undefined;
      const images: RenderedImage[] = [];
      for (const { bytes, width, height, seed, nsfw } of encoded) {
        const artifactId = await deps.artifacts.put(bytes, { contentType: 'image/png', jobId: ctx.jobId });
        stored.push(artifactId);
        images.push({ artifactId, width, height, bytes: bytes.length, seed, nsfw });
      }
      const result: GenerateResult = {
        v: 1,
        images,
        seed: request.seed,
        model: request.model,
        provider: generated.provider,
        truncatedWords: generated.truncatedWords,
        ...(generated.warnings.length > 0 ? { warnings: generated.warnings } : {}),
        timings: { loadMs: generated.loadMs, renderMs: 0, totalMs: 0 },
      };
      if (grid !== undefined) {
        const artifactId = await deps.artifacts.put(grid.bytes, {
          contentType: 'image/png',
          jobId: ctx.jobId,
        });
        stored.push(artifactId);
        result.grid = { artifactId, width: grid.width, height: grid.height, bytes: grid.bytes.length };
      }
      const totalMs = Math.round(performance.now() - started);
      result.timings = {
        loadMs: generated.loadMs,
        renderMs: Math.max(0, totalMs - generated.loadMs),
        totalMs,
      };
      ctx.logger.info(
        {
          model: request.model,
          mode: request.mode,
          images: images.length,
          provider: result.provider,
          ...result.timings,
        },
        'rendered',
      );
      return result;
    } catch (error) {
      await Promise.all(stored.map((id) => deps.artifacts.delete(id).catch(() => {})));
      throw error;
    }
  };
}
