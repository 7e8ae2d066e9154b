import { A1111_SAMPLERS } from '../../../engine/infotext.ts';
import type { GenerateResult } from '../../../queue/job-data.ts';
import type { GenerationRequest, SamplerName } from '../../../request/types.ts';

/**
 * AUTOMATIC1111's answer to txt2img and img2img (`TextToImageResponse`): `images` as base64 PNGs,
 * `parameters` (the request as it arrived), and `info`, a JSON *string* of its `Processed.js()`
 * fields, which clients parse (`webuiapi` reads `info["seed"]`, `info["all_seeds"]`,
 * `info["infotexts"]`). Fields easel has no notion of carry A1111's own neutral values (no face
 * restoration, no VAE override, subseed -1).
 */

export interface A1111Answer {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}

/** AUTOMATIC1111's display name of a sampler; a diffusers class used as given keeps its class name. */
export function a1111SamplerName(sampler: GenerationRequest['sampler']): string {
  return sampler in A1111_SAMPLERS ? A1111_SAMPLERS[sampler as SamplerName] : sampler;
}

/** A1111's `job_timestamp`: local-free `YYYYMMDDhhmmss` (UTC here). */
export function jobTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export interface InfoInput {
  request: GenerationRequest;
  /** None when the job was interrupted before its images. */
  result?: GenerateResult;
  /** Each image's `parameters` text, as written into its PNG. */
  infotexts: string[];
  createdAt: number;
}

export function a1111Info({ request, result, infotexts, createdAt }: InfoInput): Record<string, unknown> {
  const images = result?.images ?? [];
  const n = images.length;
  const first = images[0];
  return {
    prompt: request.prompt,
    all_prompts: Array.from({ length: n }, () => request.prompt),
    negative_prompt: request.negativePrompt,
    all_negative_prompts: Array.from({ length: n }, () => request.negativePrompt),
    seed: first?.seed ?? request.seed,
    all_seeds: images.map((image) => image.seed),
    subseed: -1,
    all_subseeds: images.map(() => -1),
    subseed_strength: 0,
    width: first?.width ?? request.width,
    height: first?.height ?? request.height,
    sampler_name: a1111SamplerName(request.sampler),
    cfg_scale: request.guidance,
    steps: request.steps,
    batch_size: n,
    restore_faces: false,
    face_restoration_model: null,
    sd_model_name: result?.model ?? request.model,
    sd_model_hash: null,
    sd_vae_name: null,
    sd_vae_hash: null,
    seed_resize_from_w: -1,
    seed_resize_from_h: -1,
    denoising_strength: request.strength ?? request.hires?.denoise ?? null,
    extra_generation_params: a1111ExtraParameters(request),
    index_of_first_image: 0,
    infotexts,
    styles: [],
    job_timestamp: jobTimestamp(createdAt),
    clip_skip: request.clipSkip ?? 1,
    is_using_inpainting_conditioning: false,
    version: 'easel',
  };
}

/** What A1111 puts in `extra_generation_params` for the features easel shares with it. */
function a1111ExtraParameters(request: GenerationRequest): Record<string, string | number> {
  const extra: Record<string, string | number> = {};
  if (request.hires !== undefined) {
    extra['Hires upscale'] = request.hires.scale;
    extra['Hires steps'] = request.hires.steps;
  }
  return extra;
}

/** The request as it arrived, minus the key; images only when `include_init_images` asked for them. */
export function a1111Parameters(
  body: Record<string, unknown>,
  includeInitImages: boolean,
): Record<string, unknown> {
  const { key: _key, ...parameters } = body;
  if ('init_images' in parameters && !includeInitImages) {
    parameters.init_images = null;
    parameters.mask = null;
  }
  return parameters;
}
