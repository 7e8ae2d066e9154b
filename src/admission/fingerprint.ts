import { hash } from 'node:crypto';
import type { GenerationRequest } from '../request/types.ts';
import { wordsForMatching } from '../request/words.ts';

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
