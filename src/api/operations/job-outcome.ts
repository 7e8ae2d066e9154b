import type { GenerateJobData, GenerateResult } from '../../queue/job-data.ts';
import type { JobView } from '../../queue/job-view.ts';

/**
 * Where a job stands, in the terms every face answers in: done with its images, still processing
 * (with its place and estimate), or failed (never charged) with why. Faces render this; they never
 * read a BullMQ job themselves.
 */
/** What an answer needs of a job: its request and where it came from (generate and deliver jobs both have them). */
export type JobFacts = Pick<GenerateJobData, 'request' | 'origin'>;

export type JobOutcome =
  | { status: 'success'; jobId: string; data: JobFacts; result: GenerateResult }
  | { status: 'processing'; jobId: string; data: JobFacts; position?: number; etaSeconds?: number }
  | { status: 'failed'; jobId: string; data: JobFacts; message: string };

export function outcomeOf(view: JobView): JobOutcome {
  const { jobId, data } = view;
  switch (view.state) {
    case 'completed':
      if (view.result) return { status: 'success', jobId, data, result: view.result };
      return { status: 'failed', jobId, data, message: failureMessage('The job finished without images.') };
    case 'failed':
      return { status: 'failed', jobId, data, message: failureMessage(view.failedReason) };
    case 'cancelled':
      return { status: 'failed', jobId, data, message: failureMessage(undefined, true) };
    default:
      return {
        status: 'processing',
        jobId,
        data,
        ...(view.position !== undefined ? { position: view.position } : {}),
        ...(view.etaSeconds !== undefined ? { etaSeconds: view.etaSeconds } : {}),
      };
  }
}

/** Failure text for a client: the worker's reason without stack or internals, and that nothing was charged. */
export function failureMessage(reason: string | undefined, cancelled = false): string {
  if (cancelled) return 'The job was cancelled. It was not charged.';
  const firstLine = (reason ?? '').split('\n')[0]!.trim();
  return `${firstLine.replace(/[.\s]+$/, '') || 'The render failed'}. It was not charged.`;
}
