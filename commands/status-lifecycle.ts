import type { Logger } from '../src/log/logger.ts';
import type { StatusMarks } from '../src/platforms/status-marks.ts';
import type { GenerateJobData } from '../src/queue/job-data.ts';
import type { JobProgress } from '../src/queue/job-view.ts';
import type { ProgressRelay } from '../src/queue/progress-relay.ts';
import type { CommandReply } from './admit-and-reply.ts';
import { credits } from './credits.ts';

/**
 * The life of a job's status message, the same on every platform: posted queued (cost, place in
 * line, ETA, Cancel), edited with progress at most once per window across every bot process, set
 * once to its final state (done, failed with the refund, cancelled), after which no late progress
 * event sets it back. A platform implements the small surface below (where its message is, and how
 * to show a state in it; Slack also how to post it) and renders each state in its own markup.
 */
export type StatusState =
  | { kind: 'queued'; position: number; etaSeconds?: number }
  | {
      kind: 'rendering';
      step: number;
      total: number;
      etaSeconds?: number;
      /** What the progress counts: a clip's is in frames. */
      unit?: 'step' | 'frame';
    }
  | {
      kind: 'done';
      /** How many images were delivered, and how long the job took, when the renderer shows them. */
      images?: number;
      seconds?: number;
      /** Discord: whether the images went into a thread or below the status message itself. */
      where?: 'thread' | 'here';
    }
  | { kind: 'failed'; message: string; refunded: number }
  | { kind: 'cancelled'; byUserId: string; refunded: number };

/** Whether the job can still be cancelled: the status message keeps its Cancel button while so. */
export function cancellable(state: StatusState): boolean {
  return state.kind === 'queued' || state.kind === 'rendering';
}

/** The state an accepted job's status message is posted with: its place in line and the ETA. */
export function queuedState(reply: {
  position: number;
  etaSeconds?: number;
}): Extract<StatusState, { kind: 'queued' }> {
  return {
    kind: 'queued',
    position: reply.position,
    ...(reply.etaSeconds !== undefined ? { etaSeconds: reply.etaSeconds } : {}),
  };
}

/** What a refund (or its absence) means to the member, in the words every platform uses. */
export function refundSentence(refunded: number): string {
  return refunded > 0 ? `${credits(refunded)} went back to your balance.` : 'Nothing was charged.';
}

/** What a status message shows of its job (a generate job's data, or a delivery's). */
export type StatusJob = Pick<GenerateJobData, 'request' | 'member' | 'origin'> & {
  /** Credits reserved, shown while queued. */
  cost?: number;
};

/** What a platform does to a job's status message. */
export interface StatusSurface<Where> {
  /** The platform whose jobs this surface shows (`data.origin.platform`). */
  platform: GenerateJobData['origin']['platform'];
  /** Where the job's status message is, or undefined when there is none or it can no longer be edited. */
  locate(jobId: string, job: StatusJob): Promise<Where | undefined>;
  /** Shows a state in the message. Failures are the caller's to log: a status line is cosmetic. */
  show(where: Where, jobId: string, job: StatusJob, state: StatusState): Promise<void>;
}

/**
 * A surface that posts a job's status message: on Slack where the job's origin says; on Discord as
 * the answer to the interaction, within its 3 seconds (first-response.ts), or over a batch job's
 * placeholder.
 */
export interface StatusPoster<Where> {
  /**
   * Posts the message showing `state` and records it as the job's status message, where delivery
   * and progress find it; `balance` is shown while queued. Throws when the platform refuses it.
   */
  post(jobId: string, job: StatusJob, state: StatusState, balance?: number): Promise<Where>;
}

/** What the status message shows of an accepted admission. */
type AcceptedJob = Pick<
  Extract<CommandReply, { status: 'accepted' }>,
  'jobId' | 'cost' | 'balance' | 'position' | 'etaSeconds' | 'request'
>;

/** Posts an accepted job's status message: queued, with what it cost and what is left. */
export function postQueuedStatus<Where>(
  surface: StatusPoster<Where>,
  accepted: AcceptedJob,
  job: Omit<StatusJob, 'request' | 'cost'>,
): Promise<Where> {
  return surface.post(
    accepted.jobId,
    { ...job, request: accepted.request, cost: accepted.cost },
    queuedState(accepted),
    accepted.balance,
  );
}

/**
 * Turns render progress of a platform's jobs into edits of their status messages, at most one per
 * job per `windowMs` (the slot is taken in Redis, so several bot processes together still edit once),
 * and never once the status is final. The last step is skipped: the result follows at once, and an
 * edit sent now could land after the final one. Returns the unsubscribe function.
 */
export function followStatusProgress<Where>(deps: {
  progress: ProgressRelay;
  marks: StatusMarks;
  surface: StatusSurface<Where>;
  windowMs: number;
  logger: Logger;
}): () => void {
  const { surface, marks } = deps;
  return deps.progress.onProgress(async ({ jobId, progress, data }) => {
    if (data.origin.platform !== surface.platform) return;
    if (isLastStep(progress)) return;
    if (await marks.isFinal(jobId)) return;
    const where = await surface.locate(jobId, data);
    if (where === undefined) return;
    if (!(await marks.takeProgressSlot(jobId, deps.windowMs))) return;
    const state: StatusState = {
      kind: 'rendering',
      step: progress.step,
      total: progress.total,
      unit: data.request.video !== undefined ? 'frame' : 'step',
    };
    await surface
      .show(where, jobId, data, state)
      .catch((err: unknown) => deps.logger.warn({ err, jobId }, 'progress edit failed'));
  });
}

function isLastStep(progress: JobProgress): boolean {
  return progress.step >= progress.total;
}

/**
 * Sets a job's status to its final state: marked final first, so a progress edit racing it finds
 * the mark and stays away, then shown. Delivery (done, failed) and Cancel both end a status here.
 */
export async function finishStatus<Where>(
  marks: StatusMarks,
  surface: StatusSurface<Where>,
  where: Where | undefined,
  jobId: string,
  job: StatusJob,
  state: Extract<StatusState, { kind: 'done' | 'failed' | 'cancelled' }>,
): Promise<void> {
  await marks.markFinal(jobId);
  if (where !== undefined) await surface.show(where, jobId, job, state);
}
