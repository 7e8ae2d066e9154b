import { batchButtons } from '../../../commands/actions.ts';
import { confirmationLines } from '../../../commands/batch.ts';
import type { ImagineReply } from '../../../commands/imagine.ts';
import type { UserError } from '../../errors/user-error.ts';
import { userErrorText } from '../user-error-text.ts';
import { buttonRows } from './components.ts';
import type { PrivateAnswer } from './first-response.ts';
import { escapeMarkdown, MESSAGE_MAX, truncate } from './status-text.ts';

/** Text a member wrote, quoted in a refusal, cannot change how Discord shows it. */
const DISCORD_MARKUP = { literal: escapeMarkdown };

/** A refusal as the member reads it (ephemeral): what is wrong, field by field. */
export function refusalAnswer(error: UserError): PrivateAnswer {
  const text = userErrorText(error, DISCORD_MARKUP);
  const lines = text.split('\n').filter(Boolean);
  const content = lines.length > 1 ? `⚠️ Please fix:\n${lines.map((l) => `• ${l}`).join('\n')}` : `⚠️ ${text}`;
  return { kind: 'ephemeral', content: truncate(content, MESSAGE_MAX) };
}

/** A batch's private confirmation: how many jobs, their total cost, and Queue them / Cancel. */
export function confirmationAnswer(reply: Extract<ImagineReply, { status: 'confirm' }>): PrivateAnswer {
  return {
    kind: 'ephemeral',
    content: truncate(escapeMarkdown(confirmationLines(reply).join('\n')), MESSAGE_MAX),
    components: buttonRows(batchButtons(reply.batchId)),
  };
}

export const INTERNAL_ERROR_ANSWER: PrivateAnswer = {
  kind: 'ephemeral',
  content:
    '⚠️ Something went wrong on easel’s side and nothing was queued or charged. Please try again in a moment.',
};
