import { hash } from 'node:crypto';
import type { GenerationRequest } from '../request/types.ts';

/**
 * Words as the banned-word check compares them: lower case, letters and digits of any script,
 * everything else a separator, padded with one space on each side (" a red fox "), so a banned
 * phrase matches whole words only (" fox " is not found in " foxes ").
 */
export function wordsForMatching(text: string): string {
  const words = text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  return ` ${words.join(' ')} `;
}

/** A banned word or phrase as stored: its words in matching form, without the padding. */
export function normalizeBannedWord(word: string): string {
  return wordsForMatching(word).trim();
}

/**
 * Identifies "the same request" for the duplicate filter: the prompt (case and spacing aside) and
 * every parameter except the seed, which the validator draws at random when none is given; an
 * explicit reroll asks for the same prompt again on purpose and is told apart by its seed.
 * `promptWords` is `wordsForMatching(request.prompt)` when the caller has it already.
 */
export function requestFingerprint(
  request: GenerationRequest,
  includeSeed = false,
  promptWords = wordsForMatching(request.prompt),
): string {
  let text = `${promptWords}\u0000${wordsForMatching(request.negativePrompt)}`;
  // Every other field, in name order, so a field added to requests later counts too. Nested values
  // (region, images, source) come from the one validator, so their own key order is stable.
  for (const key of Object.keys(request).sort()) {
    if (key === 'prompt' || key === 'negativePrompt' || (key === 'seed' && !includeSeed)) continue;
    const value = request[key as keyof GenerationRequest];
    if (value === undefined) continue;
    text += `\u0000${key}=${JSON.stringify(value)}`;
  }
  // The whole text at once hashes the same bytes as one update per part, at a fraction of the
  // cost (admission computes this for every request; crypto.hash is the one-shot form).
  return hash('sha256', text, 'hex').slice(0, 32);
}
