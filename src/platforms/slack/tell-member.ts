import type { RespondFn, types, webApi } from '@slack/bolt';
import type { UserError } from '../../errors/user-error.ts';
import type { Logger } from '../../log/logger.ts';
import { userErrorText } from '../user-error-text.ts';
import { escapeMrkdwn } from './slack-limits.ts';

/**
 * Tells one member something only they see: through the payload's `response_url` when there is
 * one (it works in channels easel was never invited to), else `chat.postEphemeral` (modal
 * submissions carry no response_url). Refusals, failures and refunds all come this way.
 */
export interface EphemeralTarget {
  client: webApi.WebClient;
  channelId: string;
  userId: string;
  threadTs?: string;
  respond?: RespondFn;
}

/** A private message: plain text, or blocks with the text as their fallback (a batch's confirmation). */
export type PrivateMessage = string | { text: string; blocks: types.KnownBlock[] };

/** Says `message` to the member alone; throws what Slack answered when neither way took it. */
export async function sayPrivately(
  target: EphemeralTarget,
  message: PrivateMessage,
  logger: Logger,
): Promise<void> {
  const body = typeof message === 'string' ? { text: message } : message;
  if (target.respond) {
    try {
      await target.respond({ response_type: 'ephemeral', replace_original: false, ...body });
      return;
    } catch (error) {
      logger.warn({ err: error }, 'response_url failed; falling back to chat.postEphemeral');
    }
  }
  await target.client.chat.postEphemeral({
    channel: target.channelId,
    user: target.userId,
    ...body,
    ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
  });
}

/** `sayPrivately` where not being heard is no reason to fail (a refusal, a hint): logged. */
export async function tellMember(
  target: EphemeralTarget,
  message: PrivateMessage,
  logger: Logger,
): Promise<void> {
  try {
    await sayPrivately(target, message, logger);
  } catch (error) {
    logger.warn({ err: error, channel: target.channelId }, 'could not tell the member');
  }
}

/** Text a member wrote, quoted in a refusal, cannot turn into a mention or a link on Slack. */
export const SLACK_MARKUP = { literal: escapeMrkdwn };

/** A refusal as a Slack member reads it. */
export function slackRefusalText(error: UserError): string {
  return userErrorText(error, SLACK_MARKUP);
}
