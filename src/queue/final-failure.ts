import type { Queue } from 'bullmq';
import type { Reservations } from '../credits/reservations.ts';
import { CodedError, type ErrorCode } from '../errors/coded-error.ts';
import { isUserError } from '../errors/user-error.ts';
import type { Logger } from '../log/logger.ts';
import { jobsFinishedTotal } from '../metrics/metrics.ts';
import type { DeliverJobData, GenerateJobData } from './job-data.ts';
import { deliverJobOptions } from './queues.ts';

/** Internal failures that no retry can fix. */
export const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set([
  'model-missing',
  'model-invalid',
  'image-invalid',
]);

/** Delivery job ids: one result and one failure notice per generate job, however often enqueued. */
export const resultDeliveryId = (jobId: string) => `result-${jobId}`;
export const failureDeliveryId = (jobId: string) => `failure-${jobId}`;

/** What the member reads about a failure: a refusal's own words, otherwise a plain summary. */
export function failureMessage(error: unknown): string {
  if (isUserError(error)) return error.message;
  if (error instanceof CodedError) {
    switch (error.code) {
      case 'model-missing':
        return 'The model is not installed on the render workers.';
      case 'model-invalid':
        return 'The model files on the render workers are damaged or incomplete.';
      case 'image-invalid':
        return 'The input image could not be read.';
      default:
        return 'The render failed because of an internal error.';
    }
  }
  if (error instanceof Error && /stalled/i.test(error.message)) {
    return 'The render worker stopped repeatedly while working on this job.';
  }
  return 'The render failed because of an internal error.';
}

/**
 * The end of a job that will not succeed: refund once, and tell the member (through the deliver
 * queue) what failed and that nothing was charged. Safe to repeat: the refund happens once and the
 * notice is enqueued under one id.
 */
export async function finishFailedJob(
  deps: { reservations: Reservations; deliver: Queue<DeliverJobData>; logger: Logger },
  jobId: string,
  data: GenerateJobData,
  message: string,
): Promise<void> {
  const outcome = await deps.reservations.settle(jobId, 'refund', message, data.member.userId);
  if (outcome.kind === 'committed' || (outcome.kind === 'already' && outcome.status === 'committed')) {
    // Succeeded after all (a duplicate run finished first): nothing to refund or report.
    return;
  }
  if (outcome.kind === 'cancelled') return;
  const refunded =
    outcome.kind === 'refunded' ? outcome.returned : outcome.kind === 'missing' ? 0 : data.cost;
  if (outcome.kind === 'refunded') jobsFinishedTotal.inc({ outcome: 'failed' });
  if (data.origin.platform === 'cli') return;
  await deps.deliver.add(
    'failure',
    {
      v: 1,
      kind: 'failure',
      jobId,
      member: data.member,
      origin: data.origin,
      request: data.request,
      failure: { message, refunded },
    },
    { ...deliverJobOptions(), jobId: failureDeliveryId(jobId) },
  );
  deps.logger.info({ jobId, refunded }, 'job failed for good; refunded and member told');
}
