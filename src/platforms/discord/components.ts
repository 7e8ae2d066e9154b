import {
  type APIActionRowComponent,
  type APIButtonComponentWithCustomId,
  type APIModalInteractionResponseCallbackData,
  ButtonStyle,
  ComponentType,
  TextInputStyle,
} from 'discord.js';
import { type ActionButton, cancelButton } from '../../../commands/actions.ts';
import { PROMPT_MAX_CHARS } from '../../request/limits.ts';
import { truncate } from './status-text.ts';

const MODAL_TITLE_MAX = 45;
const LABEL_MAX = 80;

/**
 * Buttons and the Inpaint modal as Discord components. The rows come from commands/actions.ts (the
 * same rows Slack draws); here they become action rows of at most five buttons, at most five rows.
 */
const ROWS_MAX = 5;
const BUTTONS_PER_ROW = 5;

type ButtonRow = APIActionRowComponent<APIButtonComponentWithCustomId>;

const STYLE: Record<
  NonNullable<ActionButton['style']> | 'default',
  ButtonStyle.Primary | ButtonStyle.Danger | ButtonStyle.Secondary
> = {
  primary: ButtonStyle.Primary,
  danger: ButtonStyle.Danger,
  default: ButtonStyle.Secondary,
};

export function buttonRows(rows: ActionButton[][]): ButtonRow[] {
  const out: ButtonRow[] = [];
  for (const row of rows) {
    for (let i = 0; i < row.length; i += BUTTONS_PER_ROW) {
      out.push({
        type: ComponentType.ActionRow,
        components: row.slice(i, i + BUTTONS_PER_ROW).map((b) => ({
          type: ComponentType.Button,
          style: STYLE[b.style ?? 'default'],
          label: truncate(b.label, LABEL_MAX),
          custom_id: b.actionId,
        })),
      });
    }
  }
  return out.slice(0, ROWS_MAX);
}

/** The Cancel button under a queued or rendering job. */
export function cancelRow(jobId: string): ButtonRow[] {
  return buttonRows([[cancelButton(jobId)]]);
}

export const INPAINT_PROMPT_FIELD = 'prompt';
export const INPAINT_REGION_FIELD = 'region';

/**
 * The Inpaint modal: what to paint and where. Chat has no brush, so the region is a preset or a
 * rectangle in percent. The modal's id is the button's, so the submission finds the same job.
 */
export function inpaintModal(actionId: string, imageNumber: number): APIModalInteractionResponseCallbackData {
  return {
    custom_id: actionId,
    title: `Inpaint image ${imageNumber}`,
    components: [
      {
        type: ComponentType.ActionRow,
        components: [
          {
            type: ComponentType.TextInput,
            custom_id: INPAINT_PROMPT_FIELD,
            label: 'What to paint there',
            style: TextInputStyle.Paragraph,
            required: true,
            min_length: 1,
            max_length: PROMPT_MAX_CHARS,
            placeholder: 'a red balloon',
          },
        ],
      },
      {
        type: ComponentType.ActionRow,
        components: [
          {
            type: ComponentType.TextInput,
            custom_id: INPAINT_REGION_FIELD,
            label: 'Where',
            style: TextInputStyle.Short,
            required: true,
            max_length: 60,
            value: 'center',
            placeholder: 'center, top, bottom, left, right, background, or x,y,w,h in %',
          },
        ],
      },
    ],
  };
}

/** Remix's modal: the job's prompt to edit before V1-V4, Vary or Reroll runs. Its id is the button's. */
export function remixModal(
  actionId: string,
  title: string,
  prompt: string,
): APIModalInteractionResponseCallbackData {
  return {
    custom_id: actionId,
    // Discord's modal title is at most 45 characters.
    title: truncate(`Remix: ${title}`, MODAL_TITLE_MAX),
    components: [
      {
        type: ComponentType.ActionRow,
        components: [
          {
            type: ComponentType.TextInput,
            custom_id: INPAINT_PROMPT_FIELD,
            label: 'Prompt',
            style: TextInputStyle.Paragraph,
            required: true,
            min_length: 1,
            max_length: PROMPT_MAX_CHARS,
            value: truncate(prompt, PROMPT_MAX_CHARS),
          },
        ],
      },
    ],
  };
}
