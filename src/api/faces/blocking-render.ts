import type { GenerateResult } from '../../queue/job-data.ts';
import { ApiError } from '../api-error.ts';
import { keyMember } from '../key-admin.ts';
import { type GenerateInput, generate, type OperationContext } from '../operations/generate.ts';
import type { JobFacts } from '../operations/job-outcome.ts';

/**
 * The generate operation for APIs whose answer *is* the images (AUTOMATIC1111, OpenAI): their
 * clients have no "processing, fetch later", so the request waits for the render, up to
 * API_BLOCKING_WAIT_S. A render still unfinished then is cancelled (never charged) and the request
 * refused with 504, rather than left to be charged for an answer nobody receives.
 */

export interface Rendered {
  jobId: string;
  data: JobFacts;
  result: GenerateResult;
  /** Each image's PNG, in order. */
  pngs: Buffer[];
}

/** The job ended without images: cancelled (A1111's interrupt) or failed. */
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
  const waitS = ctx.config.API_BLOCKING_WAIT_S;
  const outcome = await generate(ctx, { ...input, waitMs: waitS * 1000 });
  if (outcome.status === 'processing') {
    const key = input.request.apiKey!;
    // Cancelling also refunds; a job that finished meanwhile cannot be cancelled and is read instead.
    const cancelled = await ctx.services.jobs
      .cancel(outcome.jobId, keyMember(key.id, key.name))
      .then(() => true)
      .catch(() => false);
    const view = cancelled ? undefined : await ctx.services.jobs.get(outcome.jobId);
    if (!view?.result || view.state !== 'completed') {
      throw ApiError.of(
        504,
        'Render timed out',
        `The render did not finish within ${waitS} s (API_BLOCKING_WAIT_S), so it was cancelled and not ` +
          'charged. Try again when the queue is shorter, or ask for fewer or smaller images.',
      );
    }
    return withImages(ctx, outcome.jobId, view.data, view.result);
  }
  if (outcome.status === 'failed') {
    const view = await ctx.services.jobs.get(outcome.jobId).catch(() => undefined);
    return {
      jobId: outcome.jobId,
      data: outcome.data,
      cancelled: view?.state === 'cancelled',
      message: outcome.message,
    };
  }
  return withImages(ctx, outcome.jobId, outcome.data, outcome.result);
}

async function withImages(
  ctx: OperationContext,
  jobId: string,
  data: JobFacts,
  result: GenerateResult,
): Promise<Rendered> {
  const pngs = await Promise.all(
    result.images.map(async (image) => {
      const stored = await ctx.services.artifacts.get(image.artifactId);
      if (!stored) throw ApiError.of(500, 'Image not found', 'A rendered image could not be read back.');
      return stored.bytes;
    }),
  );
  return { jobId, data, result, pngs };
}

export function isRendered(outcome: Rendered | Unrendered): outcome is Rendered {
  return 'result' in outcome;
}
