import type { AnswerDeps, CommandSurface, PrivateNotice } from '../../../commands/command-answer.ts';
import { refundSentence } from '../../../commands/status-lifecycle.ts';
import { confirmationBlocks } from './blocks/batch-confirmation.ts';
import type { SlackDeps } from './slack-deps.ts';
import { slackErrorCode } from './slack-error-code.ts';
import { slackStatus } from './slack-progress.ts';
import type { StatusRecord } from './status-store.ts';
import { type EphemeralTarget, type PrivateMessage, slackRefusalText, tellMember } from './tell-member.ts';

/**
 * How a Slack command answers its member (commands/command-answer.ts): a job's status message is
 * posted where its origin says (the parent message under `/imagine`, a reply in the thread for a
 * button) and recorded; private notices go through the payload's `response_url`, else
 * `chat.postEphemeral`.
 */
export function slackAnswer(deps: SlackDeps, tell: EphemeralTarget): AnswerDeps<StatusRecord> {
  return { surface: slackCommandSurface(deps, tell), jobs: deps.services.jobs, logger: deps.logger };
}

function slackCommandSurface(deps: SlackDeps, tell: EphemeralTarget): CommandSurface<StatusRecord> {
  const status = slackStatus(deps);
  return {
    async post(jobId, job, state, balance) {
      // The same request delivered twice (same trigger id) is the same job: it keeps its one message.
      const existing = await deps.statusStore.get(jobId);
      return existing ?? status.post(jobId, job, state, balance);
    },
    tellPrivately: (notice) => tellMember(tell, noticeMessage(notice), deps.logger),
  };
}

/** Why Slack would not take the status message, by the error code it answered. */
const UNPOSTABLE: Record<string, string> = {
  not_in_channel: 'I am not in this channel. Invite me with `/invite @easel` and try again.',
  channel_not_found:
    'I cannot post in this conversation. Invite me with `/invite @easel`, or use a channel I am in.',
  is_archived: 'This channel is archived.',
  restricted_action: 'This workspace does not let me post in this channel.',
};

function noticeMessage(notice: PrivateNotice): PrivateMessage {
  switch (notice.kind) {
    case 'refusal':
      return slackRefusalText(notice.error);
    case 'hint':
      return `:bulb: ${notice.text}`;
    case 'confirm':
      return confirmationBlocks(notice);
    case 'unposted': {
      const why = UNPOSTABLE[slackErrorCode(notice.error) ?? ''] ?? 'Slack would not take my message here.';
      return `${why} The job was cancelled. ${refundSentence(notice.refunded)}`;
    }
    case 'cancelled':
      return `Cancelled. ${refundSentence(notice.refunded)}`;
  }
}
