import { batchButtons } from '../../../commands/actions.ts';
import { confirmationLines } from '../../../commands/batch.ts';
import type { ImagineReply } from '../../../commands/imagine.ts';
import { queuedState } from '../../../commands/status-lifecycle.ts';
import type { UserError } from '../../errors/user-error.ts';
import { userErrorText } from '../user-error-text.ts';
import { buttonRows, cancelRow } from './components.ts';
import type { Answer } from './first-response.ts';
import { escapeMarkdown, MESSAGE_MAX, statusText, truncate } from './status-text.ts';

/** Text a member wrote, quoted in a refusal, cannot change how Discord shows it. */
const DISCORD_MARKUP = { literal: escapeMarkdown };

/** A refusal as the member reads it (ephemeral): what is wrong, field by field. */
export function refusalAnswer(error: UserError): Answer {
  const text = userErrorText(error, DISCORD_MARKUP);
  const lines = text.split('\n').filter(Boolean);
  const content = lines.length > 1 ? `⚠️ Please fix:\n${lines.map((l) => `• ${l}`).join('\n')}` : `⚠️ ${text}`;
  return { kind: 'ephemeral', content: truncate(content, MESSAGE_MAX) };
}

/** A batch's private confirmation: how many jobs, their total cost, and Queue them / Cancel. */
export function confirmationAnswer(reply: Extract<ImagineReply, { status: 'confirm' }>): Answer {
  return {
    kind: 'ephemeral',
    content: truncate(escapeMarkdown(confirmationLines(reply).join('\n')), MESSAGE_MAX),
    components: buttonRows(batchButtons(reply.batchId)),
  };
}

/** The status message of an accepted job (cost, place in line, ETA, Cancel), or the refusal. */
export function commandAnswer(
  reply: ImagineReply,
  userId: string,
): { answer: Answer; jobId?: string; warnings?: string[] } {
  if (reply.status === 'refused') return { answer: refusalAnswer(reply.error) };
  if (reply.status === 'confirm') return { answer: confirmationAnswer(reply) };
  return {
    jobId: reply.jobId,
    warnings: reply.warnings,
    answer: {
      kind: 'public',
      content: statusText({
        request: reply.request,
        userId,
        cost: reply.cost,
        balance: reply.balance,
        state: queuedState(reply),
      }),
      components: cancelRow(reply.jobId),
    },
  };
}

export const INTERNAL_ERROR_ANSWER: Answer = {
  kind: 'ephemeral',
  content:
    '⚠️ Something went wrong on easel’s side and nothing was queued or charged. Please try again in a moment.',
};
