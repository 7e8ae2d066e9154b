import type { types } from '@slack/bolt';
import { batchButtons } from '../../../../commands/actions.ts';
import { confirmationLines } from '../../../../commands/batch.ts';
import type { ImagineReply } from '../../../../commands/imagine.ts';
import { escapeAndFit, SLACK_LIMITS } from '../slack-limits.ts';
import { actionButton } from './result-message.ts';

/**
 * A batch's private confirmation (permutations, --repeat): the jobs, their total cost, and Queue
 * them / Cancel. Shown only to the member; answering it replaces it with the outcome.
 */
export function confirmationBlocks(reply: Extract<ImagineReply, { status: 'confirm' }>): {
  text: string;
  blocks: types.KnownBlock[];
} {
  const lines = confirmationLines(reply);
  return {
    text: lines[0] ?? '',
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: escapeAndFit(lines.join('\n'), SLACK_LIMITS.sectionText) },
      },
      ...batchButtons(reply.batchId).map(
        (row, i): types.KnownBlock => ({
          type: 'actions',
          block_id: `easel_batch_${i}`,
          elements: row.map(actionButton),
        }),
      ),
    ],
  };
}
