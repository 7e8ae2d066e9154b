import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Decodes base64 (or base64url, or a mix: Node's decoder takes both alphabets) spread over a list of
 * buffers, a piece at a time, with a turn of the event loop after every 256 KB of text. One
 * `Buffer.from(str, 'base64')` over a 15 MB image blocks the loop for ~110 ms, and so does making
 * the 15 MB string; pieces of 64 KB stay below the size where V8 puts strings in large-object space,
 * and a piece's string plus its decoding take microseconds. Whitespace (wrapped base64) is skipped,
 * pieces are cut on 4-character boundaries whatever the buffers' boundaries, and `=` may only end
 * the text.
 *
 * Each piece is first decoded as it is: Node skips characters outside the alphabet, so a piece
 * decodes to exactly 3 bytes per 4 characters only when every character is base64. Any other piece
 * (whitespace, `=`, a bad character) goes through a byte loop that checks and compacts it (~1 ms a
 * MB, against ~0.1 ms for the first way).
 */

export type Base64Result = { ok: true; bytes: Buffer } | { ok: false; problem: 'not-base64' | 'too-large' };

/** Characters decoded per string: below V8's large-object size, where strings get slow to make. */
const PIECE_CHARS = 64 * 1024;
/** Input bytes between two turns of the event loop. */
export const TURN_BYTES = 256 * 1024;

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

interface DecodeState {
  out: Buffer;
  written: number;
  maxBytes: number;
  /** Characters waiting to be decoded: 0-3 of them between pieces (the group left open). */
  staging: Buffer;
  filled: number;
  /** Base64 characters seen so far, and `=` seen so far (only the end may have them). */
  chars: number;
  pads: number;
}

/**
 * The bytes `chunks` encode, from byte `skip` on (a data URI's header); `too-large` as soon as they
 * would pass `maxBytes`.
 */
export async function decodeBase64Slices(
  chunks: readonly Buffer[],
  options: { skip?: number; maxBytes: number },
): Promise<Base64Result> {
  let total = -(options.skip ?? 0);
  for (const chunk of chunks) total += chunk.length;
  const state: DecodeState = {
    // Whitespace only makes the text longer than what it encodes, so this bounds the output.
    out: Buffer.allocUnsafe(Math.min(Math.ceil((Math.max(total, 0) * 3) / 4), options.maxBytes + 3)),
    written: 0,
    maxBytes: options.maxBytes,
    staging: Buffer.allocUnsafe(PIECE_CHARS + 4),
    filled: 0,
    chars: 0,
    pads: 0,
  };
  let skip = options.skip ?? 0;
  let sinceTurn = 0;
  for (const chunk of chunks) {
    let at = Math.min(skip, chunk.length);
    skip -= at;
    while (at < chunk.length) {
      const piece = chunk.subarray(at, at + PIECE_CHARS);
      at += piece.length;
      const problem = decodeWhole(piece, state) ? undefined : decodeChecked(piece, state);
      if (problem) return { ok: false, problem };
      sinceTurn += piece.length;
      if (sinceTurn >= TURN_BYTES) {
        sinceTurn = 0;
        await nextTurn();
      }
    }
  }
  if (state.chars === 0) return { ok: false, problem: 'not-base64' };
  if (state.filled > 0 && !flush(state, state.filled)) return { ok: false, problem: 'too-large' };
  return { ok: true, bytes: state.out.subarray(0, state.written) };
}

/**
 * Decodes a piece made only of base64 characters in one native call; false (nothing changed) for
 * any other piece, or one that would pass the size limit.
 */
function decodeWhole(piece: Buffer, state: DecodeState): boolean {
  if (state.pads > 0) return false;
  const total = state.filled + piece.length;
  const aligned = total - (total % 4);
  // The open group at the end is not decoded yet, so its characters are checked one by one.
  for (let i = piece.length - (total - aligned); i < piece.length; i++) {
    if (CLASSES[piece[i]!] !== ALPHABET) return false;
  }
  const expected = (aligned / 4) * 3;
  if (state.written + expected > state.maxBytes) return false;
  piece.copy(state.staging, state.filled);
  const decoded = state.out.write(state.staging.toString('latin1', 0, aligned), state.written, 'base64');
  if (decoded !== expected) return false;
  state.written += decoded;
  state.staging.copy(state.staging, 0, aligned, total);
  state.filled = total - aligned;
  state.chars += piece.length;
  return true;
}

/** Checks and compacts a piece byte by byte, then decodes its whole groups. */
function decodeChecked(piece: Buffer, state: DecodeState): 'not-base64' | 'too-large' | undefined {
  if (!compact(piece, state)) return 'not-base64';
  return flush(state, state.filled - (state.filled % 4)) ? undefined : 'too-large';
}

/** Decodes the first `count` staged characters (a multiple of 4, or the end). */
function flush(state: DecodeState, count: number): boolean {
  const { staging } = state;
  state.written += state.out.write(staging.toString('latin1', 0, count), state.written, 'base64');
  staging.copy(staging, 0, count, state.filled);
  state.filled -= count;
  return state.written <= state.maxBytes;
}

/**
 * Copies the base64 characters of `piece` after the staged ones, skipping whitespace; false at any
 * other character, or at a character after `=`. Kept small and synchronous so V8 optimises the loop.
 */
function compact(piece: Buffer, state: DecodeState): boolean {
  const { staging } = state;
  let at = state.filled;
  let pads = state.pads;
  let chars = state.chars;
  for (let i = 0; i < piece.length; i++) {
    const byte = piece[i]!;
    const kind = CLASSES[byte];
    if (kind === ALPHABET) {
      if (pads > 0) return false;
      staging[at++] = byte;
      chars++;
    } else if (kind === PAD) {
      if (++pads > 2 || chars === 0) return false;
    } else if (kind !== SPACE) {
      return false;
    }
  }
  state.filled = at;
  state.pads = pads;
  state.chars = chars;
  return true;
}
