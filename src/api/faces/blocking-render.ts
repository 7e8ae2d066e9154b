import type { GenerateResult } from '../../queue/job-data.ts';
import { ApiError } from '../api-error.ts';
import { type GenerateInput, generateFinished, type OperationContext } from '../operations/generate.ts';
import type { JobFacts } from '../operations/job-outcome.ts';

/**
 * The finished-render operation (generateFinished: waits up to API_SYNC_FACE_WAIT_MS, then cancels)
 * for the faces whose answers hold the image bytes themselves (AUTOMATIC1111's base64 `images`,
 * OpenAI's `b64_json`), with each image's PNG read back, and whether a job without images was
 * cancelled (A1111's interrupt) rather than failed.
 */

export interface Rendered {
  jobId: string;
  data: JobFacts;
  result: GenerateResult;
  /** Each image's PNG, in order. */
  pngs: Buffer[];
}

/** The job ended without images: cancelled (A1111's interrupt) or failed; never charged. */
export interface Unrendered {
  jobId: string;
  data: JobFacts;
  cancelled: boolean;
  message: string;
}

export async function renderBlocking(
  ctx: OperationContext,
  input: Omit<GenerateInput, 'waitMs'>,
): Promise<Rendered | Unrendered> {
  const outcome = await generateFinished(ctx, input);
  if (outcome.status === 'failed') {
    const view = await ctx.services.jobs.get(outcome.jobId).catch(() => undefined);
    return {
      jobId: outcome.jobId,
      data: outcome.data,
      cancelled: view?.state === 'cancelled',
      message: outcome.message,
    };
  }
  const pngs = await Promise.all(
    outcome.result.images.map(async (image) => {
      const stored = await ctx.services.artifacts.get(image.artifactId);
      if (!stored) throw ApiError.of(500, 'Image not found', 'A rendered image could not be read back.');
      return stored.bytes;
    }),
  );
  return { jobId: outcome.jobId, data: outcome.data, result: outcome.result, pngs };
}

export function isRendered(outcome: Rendered | Unrendered): outcome is Rendered {
  return 'result' in outcome;
}
