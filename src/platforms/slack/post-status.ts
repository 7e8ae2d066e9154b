import { cancelButton } from '../../../commands/actions.ts';
import type { CommandReply } from '../../../commands/admit-and-reply.ts';
import { refundSentence } from '../../../commands/status-lifecycle.ts';
import type { MemberRef } from '../../members/member-ref.ts';
import { jobTitle } from './blocks/job-title.ts';
import { type SlackMessage, statusMessage } from './blocks/status-message.ts';
import type { SlackDeps } from './slack-deps.ts';
import { slackErrorCode } from './slack-error-code.ts';
import type { StatusRecord } from './status-store.ts';
import { type EphemeralTarget, tellMember } from './tell-member.ts';

/**
 * Posts an accepted job's status message — the parent message under `/imagine`, or a reply in the
 * thread for a button — and records it for delivery and progress. Posting comes after admission,
 * so a refused request leaves nothing in the channel. When Slack will not take the message (easel
 * is not in a private channel, the channel is archived) the job is cancelled and refunded at once:
 * its result would have nowhere to go.
 */
export interface StatusPost {
  jobId: string;
  member: MemberRef;
  channelId: string;
  /** Set for button presses: the thread the status message and the result go into. */
  threadTs?: string;
  cost: number;
  message: SlackMessage;
  tell: EphemeralTarget;
}

const UNPOSTABLE: Record<string, string> = {
  not_in_channel: 'I am not in this channel. Invite me with `/invite @easel` and try again.',
  channel_not_found:
    'I cannot post in this conversation. Invite me with `/invite @easel`, or use a channel I am in.',
  is_archived: 'This channel is archived.',
  restricted_action: 'This workspace does not let me post in this channel.',
};

export async function postStatus(deps: SlackDeps, post: StatusPost): Promise<StatusRecord | undefined> {
  // The same request delivered twice (same trigger id) is the same job: it keeps its one message.
  const existing = await deps.statusStore.get(post.jobId);
  if (existing) return existing;
  try {
    return await postStatusMessage(deps, post.jobId, post.message, {
      channelId: post.channelId,
      ...(post.threadTs ? { threadTs: post.threadTs } : {}),
      userId: post.member.userId,
      cost: post.cost,
    });
  } catch (error) {
    const code = slackErrorCode(error) ?? '';
    deps.logger.warn(
      { err: error, jobId: post.jobId, code },
      'status message not posted; cancelling the job',
    );
    let refunded = 0;
    try {
      refunded = (await deps.services.jobs.cancel(post.jobId, post.member, { isAdmin: true })).refunded;
    } catch (cancelError) {
      deps.logger.error({ err: cancelError, jobId: post.jobId }, 'could not cancel an unpostable job');
    }
    const why = UNPOSTABLE[code] ?? 'Slack would not take my message here.';
    await tellMember(post.tell, `${why} The job was cancelled. ${refundSentence(refunded)}`, deps.logger);
    return undefined;
  }
}

/**
 * Posts a job's status message and records it. Whoever records first owns the message (the
 * frontend, or delivery when the frontend died before posting); the other deletes its duplicate and
 * gets the record that stands.
 */
export async function postStatusMessage(
  deps: Pick<SlackDeps, 'client' | 'statusStore'>,
  jobId: string,
  message: SlackMessage,
  at: { channelId: string; threadTs?: string; userId: string; cost: number },
): Promise<StatusRecord> {
  const posted = await deps.client.chat.postMessage({
    channel: at.channelId,
    text: message.text,
    blocks: message.blocks,
    unfurl_links: false,
    ...(at.threadTs ? { thread_ts: at.threadTs } : {}),
  });
  const ts = posted.ts as string;
  const claim = await deps.statusStore.claim(jobId, {
    channelId: at.channelId,
    statusTs: ts,
    threadTs: at.threadTs ?? ts,
    userId: at.userId,
    cost: at.cost,
  });
  if (!claim.won) await deps.client.chat.delete({ channel: at.channelId, ts }).catch(() => undefined);
  return claim.record;
}

/** An accepted job's "queued" status message (cost, balance, seed, place in line, Cancel), posted. */
export function postQueued(
  deps: SlackDeps,
  reply: Extract<CommandReply, { status: 'accepted' }>,
  where: { member: MemberRef; channelId: string; threadTs?: string; tell: EphemeralTarget },
): Promise<StatusRecord | undefined> {
  return postStatus(deps, {
    jobId: reply.jobId,
    member: where.member,
    channelId: where.channelId,
    ...(where.threadTs ? { threadTs: where.threadTs } : {}),
    cost: reply.cost,
    tell: where.tell,
    message: statusMessage({
      title: jobTitle(reply.request),
      userId: where.member.userId,
      cost: reply.cost,
      balance: reply.balance,
      seed: reply.request.seed,
      state: { kind: 'queued', position: reply.position, etaSeconds: reply.etaSeconds },
      cancelActionId: cancelButton(reply.jobId).actionId,
    }),
  });
}
