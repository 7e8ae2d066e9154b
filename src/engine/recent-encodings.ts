import type { InferenceSession } from 'onnxruntime-node';
import type { TextEncoderPart } from './diffusion-model.ts';

/**
 * The text encoders' outputs for the last few prompt pairs, per encoder session. A reroll, a
 * variation, an upscale's detail pass or a `--repeat` encodes the prompt that was encoded a moment
 * ago, and an encoder can cost more than the steps do (SD3's T5-XXL takes seconds a prompt on a
 * CPU). The key is everything that shapes the output: the session (a LoRA on the text encoder
 * replaces it), the tokenizer (an embedding extends it), the layer read and its final norm (clip
 * skip changes them) and the texts; so a hit is what running again would give. The values are
 * shared between renders: readers never write to them.
 */
const RECENT_PER_SESSION = 4;

const recent = new WeakMap<InferenceSession, Map<string, Promise<unknown>>>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

function idOf(object: object): number {
  let id = objectIds.get(object);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(object, id);
  }
  return id;
}

/** `encode()`'s result for these texts on this encoder: kept from a recent call, else made now. */
export function recentEncoding<T>(
  encoder: TextEncoderPart,
  texts: readonly (string | boolean)[],
  encode: () => Promise<T>,
): Promise<T> {
  const key = JSON.stringify([
    idOf(encoder.tokenizer),
    encoder.finalNorm !== undefined ? idOf(encoder.finalNorm) : 0,
    encoder.hiddenOutput,
    encoder.pooledOutput ?? '',
    texts,
  ]);
  const kept = keptFor(encoder.session);
  const known = kept.get(key) as Promise<T> | undefined;
  if (known !== undefined) {
    // Most recently used last: the oldest is the first to go.
    kept.delete(key);
    kept.set(key, known);
    return known;
  }
  const made = encode();
  kept.set(key, made);
  if (kept.size > RECENT_PER_SESSION) kept.delete(kept.keys().next().value as string);
  // A failed encoding is not kept: the next render tries again.
  made.catch(() => {
    if (kept.get(key) === made) kept.delete(key);
  });
  return made;
}

function keptFor(session: InferenceSession): Map<string, Promise<unknown>> {
  let kept = recent.get(session);
  if (kept === undefined) {
    kept = new Map();
    recent.set(session, kept);
  }
  return kept;
}
