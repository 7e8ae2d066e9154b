import type { types } from '@slack/bolt';
import { escapeAndFit, SLACK_LIMITS, truncate } from '../slack-limits.ts';
import type { SlackMessage } from './status-message.ts';

/**
 * The buttons posted in the thread under a result: the same actions as on Discord. Under a grid
 * (or any non-upscaled result): U1-U4 (upscale one image), V1-V4 (variations of one image) and
 * Reroll. Under an upscaled image: Vary (Subtle), Vary (Strong), Inpaint, Zoom Out 1.5x / 2x and
 * Upscale 2x / 4x. Each button's action id encodes the action and the job (and image), so it keeps
 * working after a restart.
 */
export interface ResultButton {
  label: string;
  actionId: string;
  style?: 'primary' | 'danger';
}

export interface ResultMessageInput {
  userId: string;
  prompt: string;
  seed: number;
  /** Rows of buttons, in order; built by `resultButtonRows`. */
  rows: ResultButton[][];
  /** Sentences to show under the buttons (blocked images, words cut from the prompt). */
  notes?: string[];
}

export function resultMessage(input: ResultMessageInput): SlackMessage {
  const head = `<@${input.userId}> · seed ${input.seed} · `;
  const blocks: types.KnownBlock[] = [
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `${head}${escapeAndFit(input.prompt, SLACK_LIMITS.contextText - head.length)}`,
        },
      ],
    },
  ];
  input.rows.forEach((row, i) => {
    if (row.length === 0) return;
    blocks.push({
      type: 'actions',
      block_id: `easel_result_${i}`,
      elements: row.slice(0, SLACK_LIMITS.actionsElements).map((button) => actionButton(button)),
    });
  });
  for (const note of input.notes ?? []) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: truncate(note, SLACK_LIMITS.contextText) }],
    });
  }
  return { text: `Result for <@${input.userId}> (seed ${input.seed})`, blocks };
}

export function actionButton(button: ResultButton): types.Button {
  if (button.actionId.length > SLACK_LIMITS.actionId) {
    // Ids are built by the code, never by members: an over-long one is a bug to see at once.
    throw new Error(`action id over ${SLACK_LIMITS.actionId} characters: ${button.actionId}`);
  }
  return {
    type: 'button',
    action_id: button.actionId,
    text: { type: 'plain_text', text: truncate(button.label, SLACK_LIMITS.buttonText) },
    ...(button.style ? { style: button.style } : {}),
  };
}
