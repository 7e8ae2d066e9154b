import { describe, expect, it } from 'vitest';
import { buttonRows, remixModal } from '../../src/platforms/discord/components.ts';
import { MESSAGE_MAX, statusText } from '../../src/platforms/discord/status-text.ts';
import { fitText } from '../../src/platforms/fit-text.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { expectSafeCut, trickyText as sample, wellFormed } from '../support/text-cuts.ts';

/**
 * Cutting member text to Discord's limits (PLATFORM-LIMITS.md) never breaks a character: no lone
 * surrogate, no combining mark without its letter, no half of a joined emoji.
 */
describe('fitting text to a limit', () => {
  it('cuts only between graphemes at every limit, and marks the cut', () => {
    const text = sample(40);
    for (let max = 1; max <= text.length + 1; max++) expectSafeCut(text, fitText(text, max), max);
    expect(fitText('short', 5)).toBe('short');
    expect(fitText('abcdef', 4)).toBe('abc…');
    // A grapheme longer than the room left is dropped whole.
    expect(fitText('ab👨‍👩‍👧‍👦', 6)).toBe('ab…');
  });
});

const request = (prompt: string): GenerationRequest => ({
  mode: 'txt2img',
  prompt,
  negativePrompt: '',
  model: 'tiny',
  width: 512,
  height: 512,
  steps: 2,
  guidance: 7,
  sampler: 'euler',
  seed: 1,
  count: 1,
});

describe("Discord's limits on member text", () => {
  it('keeps a status message of a 2000-character emoji prompt within 2000 and whole', () => {
    const prompt = sample(2000);
    const text = statusText({
      request: request(prompt),
      userId: '1',
      cost: 1,
      state: { kind: 'failed', message: sample(3000), refunded: 1 },
    });
    expect(text.length).toBeLessThanOrEqual(MESSAGE_MAX);
    expect(wellFormed(text)).toBe(true);
  });

  it("keeps Remix's modal title within 45 and its prompt whole", () => {
    const modal = remixModal('e1:r:g1', sample(60), sample(2100));
    expectSafeCut(`Remix: ${sample(60)}`, modal.title, 45);
    const input = (modal.components[0] as { components: { value?: string; max_length?: number }[] })
      .components[0]!;
    expect(wellFormed(input.value ?? '')).toBe(true);
    expect(input.value?.length).toBeLessThanOrEqual(input.max_length ?? 0);
  });

  it('keeps button labels within 80', () => {
    const [row] = buttonRows([[{ label: sample(90), actionId: 'e1:r:g1' }]]);
    const label = (row!.components[0] as { label: string }).label;
    expectSafeCut(sample(90), label, 80);
  });
});
