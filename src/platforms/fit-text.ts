/**
 * Cutting text to a platform's limit (PLATFORM-LIMITS.md: Discord's 2000-character content, 45-
 * character modal titles, 80-character button labels; Slack's 75-character button text, 3000-
 * character sections ...) without breaking a character. The limit is measured in UTF-16 code
 * units, the larger of the counts a platform may use (a code point above U+FFFF is two), so the
 * result fits whichever way the platform counts; the cut falls between graphemes (Intl.Segmenter),
 * so an emoji, a flag, a family emoji joined with ZWJ, or a letter with its combining marks is kept
 * whole or dropped whole, never split into a lone surrogate or a bare accent. A cut is marked "…".
 */
const ELLIPSIS = '…';
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export function fitText(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  const room = max - ELLIPSIS.length;
  let kept = 0;
  for (const { index, segment } of segmenter.segment(text)) {
    if (index + segment.length > room) break;
    kept = index + segment.length;
  }
  return `${text.slice(0, kept)}${ELLIPSIS}`;
}
