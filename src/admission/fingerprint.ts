import { createHash } from 'node:crypto';
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
 */
export function requestFingerprint(request: GenerationRequest, includeSeed = false): string {
  const { seed, prompt, negativePrompt, ...params } = request;
  const normalized = {
    ...params,
    prompt: wordsForMatching(prompt).trim(),
    negativePrompt: wordsForMatching(negativePrompt).trim(),
    seed: includeSeed ? seed : undefined,
  };
  return createHash('sha256').update(canonicalJson(normalized)).digest('hex').slice(0, 32);
}

/** JSON with object keys sorted at every level, so equal requests give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
