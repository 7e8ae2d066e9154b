/**
 * Words as the banned-word check compares them: lower case, letters and digits of any script,
 * everything else a separator, padded with one space on each side (" a red fox "), so a banned
 * phrase matches whole words only (" fox " is not found in " foxes ").
 */
export function wordsForMatching(text: string): string {
  // Most prompts are plain ASCII, which NFKC leaves as it is and whose letters and digits are
  // [a-z0-9] once lower-cased: the same words at a fraction of the cost (admission does this for
  // every request).
  if (ASCII_ONLY.test(text)) return ` ${text.toLowerCase().replace(ASCII_SEPARATORS, ' ').trim()} `;
  return wordsForMatchingAnyText(text);
}

/** The general rule, for text of any script (wordsForMatching's ASCII path must agree with it). */
export function wordsForMatchingAnyText(text: string): string {
  const words = text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  return ` ${words.join(' ')} `;
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;
const ASCII_SEPARATORS = /[^a-z0-9]+/g;

/** A banned word or phrase as stored: its words in matching form, without the padding. */
export function normalizeBannedWord(word: string): string {
  return wordsForMatching(word).trim();
}
