import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { Registry } from '../models/registry.ts';
import type { ApiOrigin, ClipFile, GenerateResult, RenderedClip } from '../queue/job-data.ts';
import type { JobView } from '../queue/job-view.ts';
import { promptWarnings } from '../request/prompt-warnings.ts';
import { ApiError } from './api-error.ts';
import { type JobFacts, type JobOutcome, outcomeOf } from './operations/job-outcome.ts';

/**
 * The answers of the hosted Stable Diffusion APIs, built from a job: `success` with the images,
 * `processing` with where to fetch the result, `failed` with why. The same builder serves the HTTP
 * answers and the webhook calls, so a webhook body equals what `fetch` returns.
 */

export interface AnswerContext {
  /** e.g. https://easel.example.com (no trailing slash). */
  baseUrl: string;
  artifacts: ArtifactStore;
  /** The models, for the answer's `warnings` (a prompt the model cannot draw); none without it. */
  registry?: Registry;
  /** Where the face answering fetches results (default `/v1/fetch`): `fetch_result` points there. */
  fetchPath?: string;
}

/** `warnings` when there are any: the hosted APIs' answers have no such field, so it is left out otherwise. */
function warningsOf(data: JobFacts, registry: Registry | undefined): Record<string, unknown> {
  const warnings = registry ? promptWarnings(data.request, registry) : [];
  return warnings.length > 0 ? { warnings } : {};
}

export type Answer = Record<string, unknown> & { status: 'success' | 'processing' | 'failed' };

export function imageUrl(baseUrl: string, artifactId: string): string {
  return `${baseUrl}/v1/images/${artifactId}.png`;
}

export function clipUrl(baseUrl: string, file: Pick<ClipFile, 'artifactId' | 'format'>): string {
  return `${baseUrl}/v1/videos/${file.artifactId}.${file.format}`;
}

/** The clip file an answer's `output` links: the asked `output_type` if made, else MP4, GIF, WebP. */
export function answeredClip(clip: RenderedClip, wanted: ApiOrigin['clipFormat']): ClipFile {
  const order = [wanted, 'mp4', 'gif', 'webp'];
  for (const format of order) {
    const file = clip.files.find((f) => f.format === format);
    if (file !== undefined) return file;
  }
  throw ApiError.of(404, 'Video not found', 'The clip has no stored file; render it again.');
}

export function fetchUrl(baseUrl: string, jobId: string, fetchPath = '/v1/fetch'): string {
  return `${baseUrl}${fetchPath}/${encodeURIComponent(jobId)}`;
}

function apiOrigin(data: JobFacts): ApiOrigin | undefined {
  return data.origin.platform === 'api' ? data.origin : undefined;
}

function trackId(data: JobFacts): Record<string, unknown> {
  const track = apiOrigin(data)?.trackId;
  return track === undefined ? {} : { track_id: track };
}

/** The request parameters under the hosted APIs' names. */
export function metaOf(data: JobFacts, result?: GenerateResult): Record<string, unknown> {
  const r = data.request;
  const meta: Record<string, unknown> = {
    prompt: r.prompt,
    negative_prompt: r.negativePrompt,
    model_id: r.model,
    width: r.width,
    height: r.height,
    samples: r.count,
    num_inference_steps: r.steps,
    guidance_scale: r.guidance,
    scheduler: r.sampler,
    seed: r.seed,
  };
  if (r.strength !== undefined) meta.strength = r.strength;
  if (r.video !== undefined) {
    meta.num_frames = r.video.frames;
    meta.fps = r.video.fps;
    meta.loop = r.video.loop;
    meta.motion = r.video.mode;
    if (r.video.to !== undefined) meta.morph_to = r.video.to;
  }
  if (r.upscale !== undefined) meta.scale = r.upscale;
  if (result) {
    meta.provider = result.provider;
    if (result.truncatedWords.length > 0) meta.truncated_words = result.truncatedWords;
    if (result.warnings !== undefined) meta.warnings = result.warnings;
  }
  if (r.loras !== undefined) meta.lora_model = r.loras.map((l) => `${l.name}:${l.strength}`).join(',');
  if (r.embeddings !== undefined) meta.embeddings_model = r.embeddings.join(',');
  if (r.clipSkip !== undefined) meta.clip_skip = r.clipSkip;
  return meta;
}

export async function successAnswer(
  jobId: string,
  data: JobFacts,
  result: GenerateResult,
  ctx: AnswerContext,
): Promise<Answer> {
  const base64 = apiOrigin(data)?.base64 === true;
  const inline = async (artifactId: string) => {
    const stored = await ctx.artifacts.get(artifactId);
    if (!stored) {
      throw ApiError.of(404, 'Image not found', 'Images are kept for a limited time; render it again.');
    }
    return stored.bytes.toString('base64');
  };
  const clip = result.video;
  const output =
    clip !== undefined
      ? [await clipOutput(clip, apiOrigin(data)?.clipFormat, base64, ctx.baseUrl, inline)]
      : await Promise.all(
          result.images.map((image) =>
            base64 ? inline(image.artifactId) : imageUrl(ctx.baseUrl, image.artifactId),
          ),
        );
  const answer: Answer = {
    status: 'success',
    id: jobId,
    output,
    seed: result.seed,
    seeds: result.images.map((i) => i.seed),
    generationTime: Math.round(result.timings.totalMs) / 1000,
    ...trackId(data),
    ...warningsOf(data, ctx.registry),
    meta: metaOf(data, result),
  };
  if (result.images.some((i) => i.nsfw !== null)) {
    answer.nsfw_content_detected = result.images.map((i) => i.nsfw?.nsfw === true);
  }
  if (clip !== undefined) {
    answer.video = {
      format: answeredClip(clip, apiOrigin(data)?.clipFormat).format,
      frames: clip.frames,
      fps: clip.fps,
      duration: clip.durationMs / 1000,
      loop: clip.loop,
      motion: clip.mode,
      width: clip.width,
      height: clip.height,
      files: Object.fromEntries(clip.files.map((f) => [f.format, clipUrl(ctx.baseUrl, f)])),
      poster: imageUrl(ctx.baseUrl, result.images[0]!.artifactId),
    };
  }
  return answer;
}

async function clipOutput(
  clip: RenderedClip,
  wanted: ApiOrigin['clipFormat'],
  base64: boolean,
  baseUrl: string,
  inline: (artifactId: string) => Promise<string>,
): Promise<string> {
  const file = answeredClip(clip, wanted);
  return base64 ? inline(file.artifactId) : clipUrl(baseUrl, file);
}

export function processingAnswer(
  jobId: string,
  data: JobFacts,
  progress: { etaSeconds?: number; position?: number },
  ctx: Pick<AnswerContext, 'baseUrl' | 'registry' | 'fetchPath'>,
): Answer {
  const { baseUrl } = ctx;
  return {
    status: 'processing',
    id: jobId,
    eta: Math.max(1, Math.round(progress.etaSeconds ?? 10)),
    ...(progress.position !== undefined ? { position: progress.position } : {}),
    fetch_result: fetchUrl(baseUrl, jobId, ctx.fetchPath),
    ...trackId(data),
    ...warningsOf(data, ctx.registry),
    meta: metaOf(data),
  };
}

export function failedAnswer(jobId: string, data: JobFacts, message: string): Answer {
  return { status: 'failed', id: jobId, message, ...trackId(data) };
}

/** The answer for a job in whatever state it is now. */
export async function answerFor(view: JobView, ctx: AnswerContext): Promise<Answer> {
  return answerForOutcome(outcomeOf(view), ctx);
}

/** easel's (and modelslab's) answer for an outcome of the shared operations. */
export async function answerForOutcome(outcome: JobOutcome, ctx: AnswerContext): Promise<Answer> {
  switch (outcome.status) {
    case 'success':
      return successAnswer(outcome.jobId, outcome.data, outcome.result, ctx);
    case 'failed':
      return failedAnswer(outcome.jobId, outcome.data, outcome.message);
    case 'processing':
      return processingAnswer(outcome.jobId, outcome.data, outcome, ctx);
  }
}
