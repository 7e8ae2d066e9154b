import { describe, expect, it } from 'vitest';
import { confirmationBlocks } from '../../src/platforms/slack/blocks/batch-confirmation.ts';
import { remixModal } from '../../src/platforms/slack/blocks/remix-modal.ts';
import { resultMessage } from '../../src/platforms/slack/blocks/result-message.ts';
import { statusMessage } from '../../src/platforms/slack/blocks/status-message.ts';
import { escapeAndFit, SLACK_LIMITS } from '../../src/platforms/slack/slack-limits.ts';
import { expectSafeCut, trickyText, wellFormed } from '../support/text-cuts.ts';

/**
 * Cutting member text to Slack's Block Kit limits (PLATFORM-LIMITS.md) never breaks a character
 * (no lone surrogate, no bare combining mark, no half of a joined emoji) nor an escape (`&amp;`).
 */
type Texts = { text?: string | { text: string }; elements?: { text: string }[] };

/** Every text of the blocks, with the limit that applies to it. */
type Shown = { text: string; max: number; mrkdwn: boolean };

/** Every text of the blocks, with the limit that applies to it and whether it is mrkdwn. */
function textsOf(blocks: unknown[]): Shown[] {
  return (blocks as ({ type: string } & Texts)[]).flatMap((block): Shown[] => {
    if (block.type === 'section' && typeof block.text === 'object') {
      return [{ text: block.text.text, max: SLACK_LIMITS.sectionText, mrkdwn: true }];
    }
    if (block.type === 'context') {
      return (block.elements ?? []).map((e) => ({
        text: e.text,
        max: SLACK_LIMITS.contextText,
        mrkdwn: true,
      }));
    }
    if (block.type === 'actions') {
      return ((block as { elements?: { text: { text: string } }[] }).elements ?? []).map((e) => ({
        text: e.text.text,
        max: SLACK_LIMITS.buttonText,
        mrkdwn: false,
      }));
    }
    return [];
  });
}

function expectWhole(blocks: unknown[]) {
  for (const { text, max, mrkdwn } of textsOf(blocks)) {
    expect(text.length).toBeLessThanOrEqual(max);
    expect(wellFormed(text)).toBe(true);
    // In mrkdwn an escape is never cut: every & starts a whole entity.
    if (mrkdwn) expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
  }
}

describe("Slack's limits on member text", () => {
  it('escapes and cuts between graphemes at every limit, never inside an entity', () => {
    const text = trickyText(60);
    for (let max = 1; max <= 200; max++) {
      const cut = escapeAndFit(text, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(wellFormed(cut)).toBe(true);
      expect(cut).not.toMatch(/&(?!amp;)/);
    }
  });

  it('keeps status, result and confirmation messages of long emoji prompts within their blocks', () => {
    const prompt = trickyText(4000);
    expectWhole(
      statusMessage({
        title: prompt,
        userId: 'U1',
        cost: 1,
        state: { kind: 'failed', message: trickyText(2500), refunded: 1 },
        cancelActionId: 'e1:x:g1',
      }).blocks,
    );
    expectWhole(
      resultMessage({
        userId: 'U1',
        prompt,
        seed: 1,
        rows: [[{ label: trickyText(90), actionId: 'e1:r:g1' }]],
      }).blocks,
    );
    expectWhole(
      confirmationBlocks({
        status: 'confirm',
        batchId: 'b1',
        totalCost: 8,
        prompts: Array.from({ length: 8 }, () => trickyText(2000)),
      }).blocks,
    );
  });

  it("keeps Remix's modal title within 24 and its prompt within the input's 3000", () => {
    const view = remixModal(
      { actionId: 'e1:r:g1', channelId: 'C1', threadTs: '1.2' },
      trickyText(40),
      trickyText(4000),
    );
    expect(view.title.text.length).toBeLessThanOrEqual(SLACK_LIMITS.modalTitle);
    const block = view.blocks[0] as { label: { text: string }; element: { initial_value: string } };
    expectSafeCut(trickyText(4000), block.element.initial_value, SLACK_LIMITS.plainTextInput);
    expect(block.label.text.length).toBeLessThanOrEqual(SLACK_LIMITS.buttonText);
    expect(wellFormed(block.label.text)).toBe(true);
  });
});
