import { hash } from 'node:crypto';
import type { GenerationRequest } from '../request/types.ts';

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
  // Every other field, in name order: the known fields in their fixed order (no key list and no
  // sort per request: admission computes this for every request); a field added to requests later
  // and missing from the list still counts, by sorting the request's own keys.
  const keys = hasOnlyKnownFields(request) ? FIELDS_IN_NAME_ORDER : Object.keys(request).sort();
  let text = `${promptWords}\u0000${wordsForMatching(request.negativePrompt)}`;
  for (const key of keys) {
    if (key === 'prompt' || key === 'negativePrompt' || (key === 'seed' && !includeSeed)) continue;
    const value = request[key as keyof GenerationRequest];
    if (value === undefined) continue;
    text += `\u0000${key}=${typeof value === 'number' ? value : JSON.stringify(value)}`;
  }
  // The whole text at once hashes the same bytes as one update per part, at a fraction of the
  // cost (crypto.hash is the one-shot form).
  return hash('sha256', text, 'hex').slice(0, 32);
}

/** GenerationRequest's fields other than the two prompts, in name order. */
const FIELDS_IN_NAME_ORDER = [
  'count',
  'guidance',
  'height',
  'initImage',
  'maskImage',
  'mode',
  'model',
  'pan',
  'region',
  'sampler',
  'seed',
  'source',
  'steps',
  'strength',
  'upscale',
  'width',
  'zoomOut',
] as const satisfies readonly Exclude<keyof GenerationRequest, 'prompt' | 'negativePrompt'>[];

const KNOWN_FIELDS = new Set<string>([...FIELDS_IN_NAME_ORDER, 'prompt', 'negativePrompt']);

function hasOnlyKnownFields(request: GenerationRequest): boolean {
  for (const key in request) {
    if (!KNOWN_FIELDS.has(key) && request[key as keyof GenerationRequest] !== undefined) return false;
  }
  return true;
}
