import type { UserError } from '../src/errors/user-error.ts';
import type { MemberRef } from '../src/members/member-ref.ts';
import type { Origin } from '../src/queue/job-data.ts';
import type { GenerationRequest } from '../src/request/types.ts';
import type { ActionReply } from './actions.ts';
import type { CommandReply } from './admit-and-reply.ts';
import { admitBatchJob, batchSummary } from './batch.ts';
import { type AnswerDeps, postAccepted } from './command-answer.ts';

/**
 * A batch's confirmation answered (permutations, --repeat), the same on every platform: Cancel
 * drops it; Queue them admits each job in turn, each with a status message of its own, while the
 * private confirmation says "Queuing…" and then what came of it. The first refusal (credits, the
 * pending cap) stops the rest, and a job admission refuses leaves no message.
 */

/** What the private confirmation becomes: a refusal and an interruption are the platform's to word. */
export type ConfirmationNotice =
  | { kind: 'refusal'; error: UserError }
  /** Plain text, the same on every platform. */
  | { kind: 'said'; text: string }
  /** Something failed on easel's side part-way: the jobs with a status message were queued. */
  | { kind: 'interrupted' };

/** Where one job of the batch shows its status, made before the job is admitted. */
export interface BatchJobSlot<Where> {
  /** The job's origin (Discord: naming the placeholder posted for its status). */
  origin: Origin;
  answer: AnswerDeps<Where>;
  /** Removes what the slot left behind when admission refused the job. */
  discard?(): Promise<void>;
}

export interface ConfirmationSurface<Where> {
  /** Replaces the private confirmation. Failures after the first are the surface's to log. */
  replaceConfirmation(notice: ConfirmationNotice): Promise<void>;
  jobSlot(request: GenerationRequest, index: number): Promise<BatchJobSlot<Where>>;
}

export interface ConfirmationDeps<Where> {
  surface: ConfirmationSurface<Where>;
  services: Parameters<typeof admitBatchJob>[0];
  logger: AnswerDeps<Where>['logger'];
}

/** Answers the press of a confirmation's button, given what the action handler made of it. */
export async function answerConfirmation<Where>(
  deps: ConfirmationDeps<Where>,
  reply: ActionReply,
  press: { requestId: string; member: MemberRef },
): Promise<void> {
  const { surface } = deps;
  if (reply.status === 'refused') return surface.replaceConfirmation({ kind: 'refusal', error: reply.error });
  if (reply.status === 'batch-dropped') {
    return surface.replaceConfirmation({ kind: 'said', text: 'Cancelled; nothing was queued or charged.' });
  }
  if (reply.status !== 'batch') throw new Error(`a ${reply.status} answered a batch`);
  const { batch } = reply;
  await surface.replaceConfirmation({ kind: 'said', text: `Queuing ${batch.requests.length} jobs…` });
  const replies: CommandReply[] = [];
  try {
    for (const [index, request] of batch.requests.entries()) {
      const slot = await surface.jobSlot(request, index);
      // The batch is taken once, so its id names these jobs once however often the press arrives.
      const job = await admitBatchJob(deps.services, { batch, index, ...press, origin: slot.origin });
      replies.push(job);
      if (job.status !== 'accepted') {
        await slot.discard?.();
        break;
      }
      await postAccepted(slot.answer, job, { member: press.member, origin: slot.origin });
    }
  } catch (error) {
    deps.logger.error({ err: error, queued: replies.length }, 'batch failed');
    return surface.replaceConfirmation({ kind: 'interrupted' });
  }
  await surface.replaceConfirmation({ kind: 'said', text: batchSummary(replies, batch.requests.length) });
}
