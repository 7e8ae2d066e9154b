import type { Services } from '../src/app/services.ts';
import type { UserError } from '../src/errors/user-error.ts';
import type { Logger } from '../src/log/logger.ts';
import type { CommandReply } from './admit-and-reply.ts';
import type { ImagineReply } from './imagine.ts';
import { postQueuedStatus, type StatusJob, type StatusPoster } from './status-lifecycle.ts';

/**
 * How a command's reply reaches the member, the same on every platform: an accepted job gets its
 * status message posted (queued: cost, place in line, ETA, Cancel) and recorded, then any hints
 * told privately; a refusal or a batch's confirmation is told privately and nothing is posted.
 * When the platform will not take the status message (Slack: easel is not in the channel), the
 * job is cancelled and refunded at once, since its result would have nowhere to go, and the
 * member is told. Each platform's adapter implements the surface; it only renders and sends.
 */

/** What a member is told alone; each platform words it in its own markup. */
export type PrivateNotice =
  | { kind: 'refusal'; error: UserError }
  /** Something to know about an accepted request (a prompt the model cannot draw). */
  | { kind: 'hint'; text: string }
  /** A batch waiting for its Queue them / Cancel. */
  | (Extract<ImagineReply, { status: 'confirm' }> & { kind: 'confirm' })
  /** The status message could not be posted (`error` is what the platform answered), so the job was cancelled. */
  | { kind: 'unposted'; error: unknown; refunded: number }
  /** A Cancel press that stopped the job. */
  | { kind: 'cancelled'; refunded: number };

/** What a platform does to answer a member: post (and record) a job's status, tell privately. */
export interface CommandSurface<Where> extends StatusPoster<Where> {
  /** Failures to be heard are the surface's to log: a member not told is no reason to fail the command. */
  tellPrivately(notice: PrivateNotice): Promise<void>;
}

export interface AnswerDeps<Where> {
  surface: CommandSurface<Where>;
  jobs: Pick<Services['jobs'], 'cancel'>;
  logger: Logger;
}

/** Who asked, and where the job's status goes. */
type Asker = Omit<StatusJob, 'request' | 'cost'>;

/** Answers a command's reply; returns where the status message is when a job was accepted and posted. */
export async function answerCommand<Where>(
  deps: AnswerDeps<Where>,
  reply: ImagineReply,
  asker: Asker,
): Promise<Where | undefined> {
  if (reply.status === 'refused') {
    await deps.surface.tellPrivately({ kind: 'refusal', error: reply.error });
    return undefined;
  }
  if (reply.status === 'confirm') {
    await deps.surface.tellPrivately({ ...reply, kind: 'confirm' });
    return undefined;
  }
  const where = await postAccepted(deps, reply, asker);
  // Privately rather than in the status: progress edits rewrite the status message.
  if (where !== undefined) {
    for (const text of reply.warnings) await deps.surface.tellPrivately({ kind: 'hint', text });
  }
  return where;
}

/**
 * Posts an accepted job's queued status; when the platform refuses it, cancels the job (refunding
 * its reservation) and tells the member. A batch's jobs come this way one by one.
 */
export async function postAccepted<Where>(
  deps: AnswerDeps<Where>,
  accepted: Extract<CommandReply, { status: 'accepted' }>,
  asker: Asker,
): Promise<Where | undefined> {
  try {
    return await postQueuedStatus(deps.surface, accepted, asker);
  } catch (error) {
    const { jobId } = accepted;
    deps.logger.warn({ err: error, jobId }, 'status message not posted; cancelling the job');
    let refunded = 0;
    try {
      // The member's own job; as admin so that no ownership check can leave it queued.
      refunded = (await deps.jobs.cancel(jobId, asker.member, { isAdmin: true })).refunded;
    } catch (cancelError) {
      deps.logger.error({ err: cancelError, jobId }, 'could not cancel an unpostable job');
    }
    await deps.surface.tellPrivately({ kind: 'unposted', error, refunded });
    return undefined;
  }
}
