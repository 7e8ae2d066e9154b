import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Decodes base64 (or base64url, or a mix: Node's decoder takes both alphabets) spread over a list of
 * buffers, about 1 MB at a time with a turn of the event loop between slices. `Buffer.from(str,
 * 'base64')` over a 15 MB image blocks the loop for ~110 ms; a 1 MB slice costs ~0.3 ms. Whitespace
 * (wrapped base64) is skipped, slices are cut on 4-character boundaries whatever the buffers'
 * boundaries, and `=` may only end the text.
 */

export type Base64Result = { ok: true; bytes: Buffer } | { ok: false; problem: 'not-base64' | 'too-large' };

/** Characters per slice: a multiple of 4, so every slice but the last decodes to whole bytes. */
export const SLICE_CHARS = 1024 * 1024;

/** Byte classes; 0 is any other byte. */
const ALPHABET = 1;
const SPACE = 2;
const PAD = 3;
const CLASSES = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') {
  CLASSES[c.charCodeAt(0)] = ALPHABET;
}
for (const c of ' \t\r\n\f') CLASSES[c.charCodeAt(0)] = SPACE;
CLASSES['='.charCodeAt(0)] = PAD;

/**
 * The bytes `chunks` encode, from byte `skip` of the first chunks on (a data URI's header);
 * `too-large` as soon as they pass `maxBytes`.
 */
export async function decodeBase64Slices(
  chunks: readonly Buffer[],
  options: { skip?: number; maxBytes: number },
): Promise<Base64Result> {
  let total = -(options.skip ?? 0);
  for (const chunk of chunks) total += chunk.length;
  // Whitespace only makes the text longer than what it encodes, so this bounds the output.
  const out = Buffer.allocUnsafe(Math.min(Math.ceil((Math.max(total, 0) * 3) / 4), options.maxBytes + 3));
  const slice = Buffer.allocUnsafe(SLICE_CHARS);
  let filled = 0;
  let written = 0;
  let chars = 0;
  let pads = 0;
  let skip = options.skip ?? 0;

  const flush = (count: number): boolean => {
    written += out.write(slice.toString('latin1', 0, count), written, 'base64');
    slice.copy(slice, 0, count, filled);
    filled -= count;
    return written <= options.maxBytes;
  };

  /** Input bytes read since the last turn: whitespace costs the loop too. */
  let sinceTurn = 0;
  for (const chunk of chunks) {
    let i = Math.min(skip, chunk.length);
    skip -= i;
    while (i < chunk.length) {
      const start = i;
      const stop = Math.min(chunk.length, i + SLICE_CHARS - filled, i + SLICE_CHARS - sinceTurn);
      for (; i < stop; i++) {
        const byte = chunk[i]!;
        const kind = CLASSES[byte];
        if (kind === ALPHABET) {
          if (pads > 0) return { ok: false, problem: 'not-base64' };
          slice[filled++] = byte;
          chars++;
        } else if (kind === PAD) {
          if (++pads > 2 || chars === 0) return { ok: false, problem: 'not-base64' };
        } else if (kind !== SPACE) {
          return { ok: false, problem: 'not-base64' };
        }
      }
      sinceTurn += stop - start;
      if (filled === SLICE_CHARS || sinceTurn >= SLICE_CHARS) {
        // The last partial group of 4 waits for the next slice.
        if (!flush(filled - (filled % 4))) return { ok: false, problem: 'too-large' };
        sinceTurn = 0;
        await nextTurn();
      }
    }
  }
  if (chars === 0) return { ok: false, problem: 'not-base64' };
  if (filled > 0 && !flush(filled)) return { ok: false, problem: 'too-large' };
  return { ok: true, bytes: out.subarray(0, written) };
}
