import type { types } from '@slack/bolt';
import { SLACK_LIMITS, truncate } from '../slack-limits.ts';

/**
 * The Inpaint modal (`views.open` from the Inpaint button): the new prompt and the region to
 * repaint, a preset or `x,y,w,h` in percent. Where the modal came from (the button's action id,
 * channel and thread) rides in `private_metadata`, so a submission needs no memory of the press.
 */
export const INPAINT_CALLBACK_ID = 'easel_inpaint';

export const INPAINT_BLOCKS = {
  prompt: 'inpaint_prompt',
  preset: 'inpaint_region_preset',
  custom: 'inpaint_region_custom',
} as const;
/** Every input's action id (block ids tell them apart). */
export const INPAINT_INPUT_ACTION = 'value';

export const REGION_PRESET_LABELS: Record<string, string> = {
  center: 'Center',
  top: 'Top half',
  bottom: 'Bottom half',
  left: 'Left half',
  right: 'Right half',
  background: 'Background (all but the center)',
};

export interface InpaintOrigin {
  /** The Inpaint button's action id (action, job, image). */
  actionId: string;
  channelId: string;
  /** The thread the result goes to. */
  threadTs: string;
}

export function encodeInpaintMetadata(origin: InpaintOrigin): string {
  const text = JSON.stringify({ a: origin.actionId, c: origin.channelId, t: origin.threadTs });
  if (text.length > SLACK_LIMITS.privateMetadata)
    throw new Error('inpaint private_metadata over 3000 characters');
  return text;
}

export function decodeInpaintMetadata(text: string): InpaintOrigin | undefined {
  try {
    const value = JSON.parse(text) as { a?: unknown; c?: unknown; t?: unknown };
    if (typeof value.a !== 'string' || typeof value.c !== 'string' || typeof value.t !== 'string')
      return undefined;
    return { actionId: value.a, channelId: value.c, threadTs: value.t };
  } catch {
    return undefined;
  }
}

function option(value: string): types.PlainTextOption {
  return { text: { type: 'plain_text', text: REGION_PRESET_LABELS[value] ?? value }, value };
}

export function inpaintModal(origin: InpaintOrigin, prompt: string, promptMaxChars: number): types.ModalView {
  const presets = Object.keys(REGION_PRESET_LABELS);
  return {
    type: 'modal',
    callback_id: INPAINT_CALLBACK_ID,
    private_metadata: encodeInpaintMetadata(origin),
    title: { type: 'plain_text', text: truncate('Inpaint', SLACK_LIMITS.modalTitle) },
    submit: { type: 'plain_text', text: 'Repaint' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: INPAINT_BLOCKS.prompt,
        label: { type: 'plain_text', text: 'What to paint in the region' },
        element: {
          type: 'plain_text_input',
          action_id: INPAINT_INPUT_ACTION,
          multiline: true,
          max_length: Math.min(promptMaxChars, SLACK_LIMITS.plainTextInput),
          ...(prompt
            ? { initial_value: truncate(prompt, Math.min(promptMaxChars, SLACK_LIMITS.plainTextInput)) }
            : {}),
        },
      },
      {
        type: 'input',
        block_id: INPAINT_BLOCKS.preset,
        label: { type: 'plain_text', text: 'Region' },
        element: {
          type: 'static_select',
          action_id: INPAINT_INPUT_ACTION,
          options: presets.map(option),
          initial_option: option('center'),
        },
      },
      {
        type: 'input',
        block_id: INPAINT_BLOCKS.custom,
        optional: true,
        label: { type: 'plain_text', text: 'Or an exact region (percent)' },
        hint: {
          type: 'plain_text',
          text: 'x,y,w,h in percent of the image, e.g. 10,60,40,40. Overrides the preset.',
        },
        element: {
          type: 'plain_text_input',
          action_id: INPAINT_INPUT_ACTION,
          placeholder: { type: 'plain_text', text: '25,25,50,50' },
          max_length: 40,
        },
      },
    ],
  };
}

interface StateValue {
  type?: string;
  value?: string | null;
  selected_option?: { value?: string } | null;
}

export interface InpaintFields {
  prompt: string;
  /** The custom region text when given, else the preset's name. */
  region: string;
  /** The block the region came from, for `response_action: errors`. */
  regionBlock: string;
}

/** Reads the submitted modal's state (`view.state.values`). */
export function readInpaintFields(values: Record<string, Record<string, StateValue>>): InpaintFields {
  const get = (block: string) => values[block]?.[INPAINT_INPUT_ACTION];
  const prompt = get(INPAINT_BLOCKS.prompt)?.value ?? '';
  const custom = (get(INPAINT_BLOCKS.custom)?.value ?? '').trim();
  if (custom) return { prompt, region: custom, regionBlock: INPAINT_BLOCKS.custom };
  const preset = get(INPAINT_BLOCKS.preset)?.selected_option?.value ?? '';
  return { prompt, region: preset, regionBlock: INPAINT_BLOCKS.preset };
}
