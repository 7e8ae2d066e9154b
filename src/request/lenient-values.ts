import { readNumber, scalarText } from './number-values.ts';
import type { RawRequest } from './raw-request.ts';
import type { GenerationMode } from './types.ts';

/**
 * Leniency for the hosted APIs' clients, which are sloppy in well-known ways: a field that does not
 * apply to the mode but holds its neutral value (segmind's own text-to-image example sends
 * `"strength": 1`), booleans as text (`"yes"`, `"no"`, modelslab's own examples), fields nobody
 * reads. Values that mean something are never dropped: `"strength": 0.5` on text-to-image is still
 * refused by the validator, by name.
 */

/** Modes without a starting image, where a denoising strength has nothing to act on. */
const WITHOUT_IMAGE: ReadonlySet<GenerationMode> = new Set(['txt2img']);

/** Strength 1 means "ignore the starting image": on a mode without one it changes nothing. */
const NEUTRAL_STRENGTH = 1;

/**
 * Removes fields of `raw` that change nothing: a strength of 1 where there is no starting image, and
 * an aspect ratio that a width and height also given already have (aithriving's clients send both:
 * its documentation requires the size and defaults the ratio to 1:1).
 */
export function dropNeutralFields(raw: RawRequest, mode: GenerationMode): void {
  if (WITHOUT_IMAGE.has(mode) && readNumber(raw.strength) === NEUTRAL_STRENGTH) delete raw.strength;
  const width = readNumber(raw.width);
  const height = readNumber(raw.height);
  const ratio = typeof raw.aspect === 'string' ? /^\s*(\d{1,4})\s*:\s*(\d{1,4})\s*$/.exec(raw.aspect) : null;
  if (ratio && width && height && Number(ratio[1]) * height === Number(ratio[2]) * width) delete raw.aspect;
}

const TRUE_TEXT = new Set(['true', 'yes', 'y', '1', 'on']);
const FALSE_TEXT = new Set(['false', 'no', 'n', '0', 'off', '']);

/** A yes/no value sent as a boolean, a number or text; undefined when it is neither. */
export function readFlag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === undefined || value === null) return false;
  const text = scalarText(value)?.toLowerCase();
  if (text === undefined) return undefined;
  if (TRUE_TEXT.has(text)) return true;
  if (FALSE_TEXT.has(text)) return false;
  return undefined;
}

/** The body's top-level fields that are not in `known`, in the order they were sent. */
export function unknownFields(body: Record<string, unknown>, known: ReadonlySet<string>): string[] {
  return Object.keys(body).filter((name) => !known.has(name));
}

/** The known name closest to a misspelled one (at most two edits away), for "did you mean". */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance (a swap of neighbours counts one), or `limit` once it reaches it. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit || a.length > 64 || b.length > 64) return limit;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]!.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]!.push(d);
    }
  }
  return Math.min(rows[a.length]![b.length]!, limit);
}
