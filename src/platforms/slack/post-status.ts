import type { CommandReply } from '../../../commands/admit-and-reply.ts';
import { postQueuedStatus, refundSentence } from '../../../commands/status-lifecycle.ts';
import type { MemberRef } from '../../members/member-ref.ts';
import type { SlackOrigin } from '../../queue/job-data.ts';
import type { SlackDeps } from './slack-deps.ts';
import { slackErrorCode } from './slack-error-code.ts';
import { slackStatus } from './slack-progress.ts';
import type { StatusRecord } from './status-store.ts';
import { type EphemeralTarget, tellMember } from './tell-member.ts';

/**
 * Posts an accepted job's status message, queued (cost, balance, seed, place in line, Cancel) —
 * the parent message under `/imagine`, or a reply in the thread for a button — and records it for
 * delivery and progress. Posting comes after admission, so a refused request leaves nothing in the
 * channel. When Slack will not take the message (easel is not in a private channel, the channel is
 * archived) the job is cancelled and refunded at once: its result would have nowhere to go.
 */
const UNPOSTABLE: Record<string, string> = {
  not_in_channel: 'I am not in this channel. Invite me with `/invite @easel` and try again.',
  channel_not_found:
    'I cannot post in this conversation. Invite me with `/invite @easel`, or use a channel I am in.',
  is_archived: 'This channel is archived.',
  restricted_action: 'This workspace does not let me post in this channel.',
};

export async function postQueued(
  deps: SlackDeps,
  reply: Extract<CommandReply, { status: 'accepted' }>,
  where: { member: MemberRef; origin: SlackOrigin; tell: EphemeralTarget },
): Promise<StatusRecord | undefined> {
  // The same request delivered twice (same trigger id) is the same job: it keeps its one message.
  const existing = await deps.statusStore.get(reply.jobId);
  if (existing) return existing;
  try {
    return await postQueuedStatus(slackStatus(deps), reply, { member: where.member, origin: where.origin });
  } catch (error) {
    const code = slackErrorCode(error) ?? '';
    deps.logger.warn(
      { err: error, jobId: reply.jobId, code },
      'status message not posted; cancelling the job',
    );
    let refunded = 0;
    try {
      refunded = (await deps.services.jobs.cancel(reply.jobId, where.member, { isAdmin: true })).refunded;
    } catch (cancelError) {
      deps.logger.error({ err: cancelError, jobId: reply.jobId }, 'could not cancel an unpostable job');
    }
    const why = UNPOSTABLE[code] ?? 'Slack would not take my message here.';
    await tellMember(where.tell, `${why} The job was cancelled. ${refundSentence(refunded)}`, deps.logger);
    return undefined;
  }
}
