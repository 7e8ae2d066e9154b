import { describe, expect, it } from 'vitest';
import { imageTreatment } from '../../src/platforms/image-treatment.ts';
import {
  decodeInpaintMetadata,
  INPAINT_BLOCKS,
  INPAINT_INPUT_ACTION,
  inpaintModal,
  readInpaintFields,
} from '../../src/platforms/slack/blocks/inpaint-modal.ts';
import { resultMessage } from '../../src/platforms/slack/blocks/result-message.ts';
import { slackFailureNotice, slackNote } from '../../src/platforms/slack/blocks/result-notes.ts';
import { formatEta, statusMessage } from '../../src/platforms/slack/blocks/status-message.ts';
import { escapeMrkdwn, truncate } from '../../src/platforms/slack/slack-limits.ts';

const buttonsOf = (blocks: unknown[]) =>
  blocks.flatMap((b) =>
    (b as { type: string }).type === 'actions' ? (b as { elements: unknown[] }).elements : [],
  );

describe('status message', () => {
  it('shows cost, balance, queue position, ETA and a Cancel button while queued', () => {
    const message = statusMessage({
      title: 'a lighthouse on a cliff',
      userId: 'U1',
      cost: 2,
      balance: 23,
      seed: 42,
      state: { kind: 'queued', position: 3, etaSeconds: 14 },
      cancelActionId: 'cancel:job-1',
    });
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('2 credits');
    expect(text).toContain('23 credits left');
    expect(text).toContain('position 3 in the queue');
    expect(text).toContain('ETA ~14 s');
    expect(text).toContain('seed 42');
    expect(buttonsOf(message.blocks)).toEqual([
      expect.objectContaining({
        action_id: 'cancel:job-1',
        text: expect.objectContaining({ text: 'Cancel' }),
      }),
    ]);
    expect(message.text).toContain('a lighthouse on a cliff');
  });

  it('shows the step while rendering and drops Cancel once the job ended', () => {
    const base = { title: 'p', userId: 'U1', cost: 1, cancelActionId: 'c' } as const;
    const rendering = statusMessage({ ...base, state: { kind: 'rendering', step: 10, total: 25 } });
    expect(JSON.stringify(rendering.blocks)).toContain('step 10/25 (40%)');
    expect(buttonsOf(rendering.blocks)).toHaveLength(1);
    const failed = statusMessage({
      ...base,
      state: { kind: 'failed', message: 'the model is missing.', refunded: 1 },
    });
    expect(JSON.stringify(failed.blocks)).toContain('1 credit refunded');
    expect(buttonsOf(failed.blocks)).toHaveLength(0);
    const cancelled = statusMessage({ ...base, state: { kind: 'cancelled', byUserId: 'U9', refunded: 2 } });
    expect(JSON.stringify(cancelled.blocks)).toContain('Cancelled by <@U9>');
    expect(buttonsOf(cancelled.blocks)).toHaveLength(0);
  });

  it('escapes a prompt so it cannot ping the channel or forge a link', () => {
    const message = statusMessage({
      title: '<!channel> & <https://evil.example|click>',
      userId: 'U1',
      cost: 1,
      state: { kind: 'queued', position: 1 },
      cancelActionId: 'c',
    });
    const section = JSON.stringify(message.blocks[0]);
    expect(section).not.toContain('<!channel>');
    expect(section).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
  });

  it('keeps a 2,000-character prompt inside the section text limit', () => {
    const message = statusMessage({
      title: 'x'.repeat(5000),
      userId: 'U1',
      cost: 1,
      state: { kind: 'queued', position: 1 },
      cancelActionId: 'c',
    });
    const section = message.blocks[0] as { text: { text: string } };
    expect(section.text.text.length).toBeLessThanOrEqual(3000);
  });

  it('formats an ETA in seconds or minutes', () => {
    expect(formatEta(0.2)).toBe('~1 s');
    expect(formatEta(59)).toBe('~59 s');
    expect(formatEta(150)).toBe('~3 min');
    expect(formatEta(undefined)).toBeUndefined();
  });
});

describe('result message', () => {
  it('lays out rows of buttons with their action ids and cuts labels to 75 characters', () => {
    const message = resultMessage({
      userId: 'U1',
      prompt: 'p',
      seed: 7,
      rows: [
        [
          { label: 'U1', actionId: 'u:1' },
          { label: 'U2', actionId: 'u:2' },
        ],
        [{ label: 'L'.repeat(100), actionId: 'r' }],
      ],
      notes: ['Image 2 was blocked by the NSFW policy.'],
    });
    const buttons = buttonsOf(message.blocks) as { action_id: string; text: { text: string } }[];
    expect(buttons.map((b) => b.action_id)).toEqual(['u:1', 'u:2', 'r']);
    expect(buttons[2]?.text.text.length).toBe(75);
    expect(JSON.stringify(message.blocks)).toContain('Image 2 was blocked');
  });

  it('refuses an action id over 255 characters', () => {
    expect(() =>
      resultMessage({
        userId: 'U1',
        prompt: 'p',
        seed: 1,
        rows: [[{ label: 'x', actionId: 'a'.repeat(256) }]],
      }),
    ).toThrow(/255/);
  });
});

describe('result notes and the failure notice', () => {
  it('escapes what the member or the worker wrote, so a prompt cannot ping the channel', () => {
    expect(slackNote({ kind: 'truncated-words', words: ['<!channel>', '&'] })).toBe(
      ':scissors: The model reads only the first 77 tokens; these words were left out: &lt;!channel&gt; &amp;',
    );
    expect(slackFailureNotice({ prompt: '<!here> cat', message: 'Out of memory.', refunded: 1 })).toBe(
      'Your request "&lt;!here&gt; cat" failed: Out of memory. 1 credit went back to your balance.',
    );
  });

  it('says a blocked image was left out, and where the workspace would show it', () => {
    expect(slackNote({ kind: 'blocked', images: [1], policy: 'allow-in-nsfw-channels' })).toBe(
      ':no_entry: Image 2 was flagged by the safety checker and left out (this workspace shows such images only in the channels its admins marked).',
    );
  });
});

describe('inpaint modal', () => {
  const origin = { actionId: 'inpaint:job-1:0', channelId: 'C1', threadTs: '1700000000.000100' };

  it('carries where it came from in private_metadata and respects the title limit', () => {
    const view = inpaintModal(origin, 'a red circle', 2000);
    expect(view.title.text.length).toBeLessThanOrEqual(24);
    expect(decodeInpaintMetadata(view.private_metadata ?? '')).toEqual(origin);
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    expect(JSON.stringify(view.blocks)).toContain('a red circle');
  });

  it('reads the custom region over the preset, and the preset otherwise', () => {
    const state = (custom: string | null) => ({
      [INPAINT_BLOCKS.prompt]: {
        [INPAINT_INPUT_ACTION]: { type: 'plain_text_input', value: 'a blue square' },
      },
      [INPAINT_BLOCKS.preset]: {
        [INPAINT_INPUT_ACTION]: { type: 'static_select', selected_option: { value: 'top' } },
      },
      [INPAINT_BLOCKS.custom]: { [INPAINT_INPUT_ACTION]: { type: 'plain_text_input', value: custom } },
    });
    expect(readInpaintFields(state('10,10,20,20'))).toEqual({
      prompt: 'a blue square',
      region: '10,10,20,20',
      regionBlock: INPAINT_BLOCKS.custom,
    });
    expect(readInpaintFields(state(null))).toMatchObject({
      region: 'top',
      regionBlock: INPAINT_BLOCKS.preset,
    });
  });

  it('rejects private_metadata that is not its own', () => {
    expect(decodeInpaintMetadata('not json')).toBeUndefined();
    expect(decodeInpaintMetadata('{"a":1}')).toBeUndefined();
  });
});

describe('text limits', () => {
  it('cuts with an ellipsis and escapes mrkdwn control characters', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(escapeMrkdwn('<@U1> & co')).toBe('&lt;@U1&gt; &amp; co');
  });
});

describe('NSFW treatment on a platform without spoilers', () => {
  const flagged = { nsfw: true, score: 0.9 };
  it('shows a flagged image only in a marked channel, and never under block', () => {
    const slack = { spoilers: false };
    expect(imageTreatment(flagged, 'block', true, slack)).toBe('blank');
    expect(imageTreatment(flagged, 'spoiler', true, slack)).toBe('show');
    expect(imageTreatment(flagged, 'spoiler', false, slack)).toBe('blank');
    expect(imageTreatment(flagged, 'allow-in-nsfw-channels', true, slack)).toBe('show');
    expect(imageTreatment(flagged, 'allow-in-nsfw-channels', false, slack)).toBe('blank');
    expect(imageTreatment({ nsfw: false, score: 0.1 }, 'block', false, slack)).toBe('show');
  });
});
