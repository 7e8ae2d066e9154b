import { expect } from 'vitest';

/** Helpers for the platforms' text-limit tests: tricky text, and what a safe cut of it looks like. */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
export const graphemes = (text: string) => [...segmenter.segment(text)].map((s) => s.segment);

/** Graphemes 1 to 11 UTF-16 units long, so every cut lands near a boundary somewhere. */
const TRICKY = [
  'a',
  '👨‍👩‍👧‍👦', // a family joined with ZWJ: 11 units, one grapheme
  '🇫🇷', // a flag: two regional indicators
  'e\u0301\u0302', // e with two combining marks
  '👍🏽', // a thumb with a skin tone
  '한',
  '𝒜', // outside the BMP: a surrogate pair
  '&', // escaped by Slack's mrkdwn as &amp;
];
export const trickyText = (n: number) =>
  Array.from({ length: n }, (_, i) => TRICKY[i % TRICKY.length]).join('');

/** True when no surrogate stands alone (String.prototype.isWellFormed, before ES2024 typings). */
export function wellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** The cut is whole graphemes of the text (and an ellipsis), within the limit, well-formed UTF-16. */
export function expectSafeCut(original: string, cut: string, max: number): void {
  expect(cut.length).toBeLessThanOrEqual(max);
  expect(wellFormed(cut)).toBe(true);
  if (cut === original) return;
  expect(cut.endsWith('…')).toBe(true);
  const kept = graphemes(cut.slice(0, -1));
  expect(kept).toEqual(graphemes(original).slice(0, kept.length));
}
