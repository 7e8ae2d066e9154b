import type { types } from '@slack/bolt';
import { PROMPT_MAX_CHARS } from '../../../request/limits.ts';
import { SLACK_LIMITS, truncate } from '../slack-limits.ts';
import { encodeInpaintMetadata, type InpaintOrigin } from './inpaint-modal.ts';

/**
 * Remix's modal (`views.open` from V1-V4, Vary or Reroll with Remix on): the job's prompt to edit.
 * Where it came from rides in `private_metadata` the same way as the Inpaint modal's (the button's
 * action id, channel and thread), so the submission needs no memory of the press.
 */
export const REMIX_CALLBACK_ID = 'easel_remix';
export const REMIX_BLOCK = 'remix_prompt';
export const REMIX_INPUT_ACTION = 'value';

export function remixModal(origin: InpaintOrigin, title: string, prompt: string): types.ModalView {
  const max = Math.min(PROMPT_MAX_CHARS, SLACK_LIMITS.plainTextInput);
  return {
    type: 'modal',
    callback_id: REMIX_CALLBACK_ID,
    private_metadata: encodeInpaintMetadata(origin),
    title: { type: 'plain_text', text: truncate('Remix', SLACK_LIMITS.modalTitle) },
    submit: { type: 'plain_text', text: 'Render' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: REMIX_BLOCK,
        label: { type: 'plain_text', text: truncate(`Prompt for ${title}`, SLACK_LIMITS.buttonText) },
        element: {
          type: 'plain_text_input',
          action_id: REMIX_INPUT_ACTION,
          multiline: true,
          max_length: max,
          initial_value: truncate(prompt, max),
        },
      },
    ],
  };
}

export function readRemixPrompt(values: Record<string, Record<string, { value?: string | null }>>): string {
  return values[REMIX_BLOCK]?.[REMIX_INPUT_ACTION]?.value ?? '';
}
