import type { GenerationRequest } from '../request/types.ts';

/**
 * Jobs whose requests have the same key can be denoised together, one UNet run per step for all
 * of them (src/engine/render-batch.ts): same model and LoRA set (the same weights), same latent
 * size, the same timesteps (steps, sampler, and for modes that start from a picture, the strength),
 * and the same UNet row layout (guided or not: classifier-free guidance doubles a job's rows).
 * Prompts, seeds, guidance values, counts and input pictures may differ: each job keeps its own.
 * Undefined for a request that is rendered alone (an upscale, which does not denoise the request's
 * size, or is no diffusion at all).
 */
export function batchKey(request: GenerationRequest): string | undefined {
  if (request.mode === 'upscale') return undefined;
  return JSON.stringify([
    request.model,
    loraSet(request),
    request.width,
    request.height,
    request.steps,
    request.sampler,
    request.mode,
    request.mode === 'txt2img' ? null : (request.strength ?? null),
    request.guidance > 1,
    // The hi-res fix's second pass: jobs that make the same one can share it too.
    request.hires ?? null,
  ]);
}

/**
 * The LoRA set changes the UNet's weights, so only jobs with the same set (names and strengths, in
 * order) share a run. Embeddings and clip skip change only the text conditioning, which stays per job.
 */
function loraSet(request: GenerationRequest): unknown {
  return request.loras ?? null;
}
