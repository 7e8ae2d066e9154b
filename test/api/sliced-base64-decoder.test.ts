import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Slices, TURN_BYTES } from '../../src/api/sliced-base64-decoder.ts';

const MAX = 64 * 1024 * 1024;

/** `text` cut into buffers at `cuts`, each a buffer of its own. */
function cut(text: string | Buffer, cuts: number[]): Buffer[] {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    chunks.push(Buffer.from(bytes.subarray(from, to)));
    from = to;
  }
  return chunks;
}

async function decoded(chunks: Buffer[], skip = 0, maxBytes = MAX): Promise<Buffer | string> {
  const result = await decodeBase64Slices(chunks, { skip, maxBytes });
  return result.ok ? result.bytes : result.problem;
}

describe('decodeBase64Slices', () => {
  const bytes = randomBytes(50);
  const text = bytes.toString('base64');

  it('decodes base64 cut at every position, and in two cuts around each group', async () => {
    for (let at = 0; at <= text.length; at++) {
      expect(await decoded(cut(text, [at])), `cut at ${at}`).toEqual(bytes);
      expect(await decoded(cut(text, [at, Math.min(at + 3, text.length)])), `cuts at ${at}`).toEqual(bytes);
    }
  });

  it('decodes base64url, unpadded, and a mix of both alphabets', async () => {
    const url = bytes.toString('base64url');
    for (let at = 0; at <= url.length; at++) expect(await decoded(cut(url, [at]))).toEqual(bytes);
    const mixed = `${text.slice(0, 20)}${url.slice(20)}`;
    expect(await decoded(cut(mixed, [7]))).toEqual(bytes);
  });

  it('skips whitespace anywhere, wrapped lines included', async () => {
    const wrapped = ` ${text.replace(/.{8}/g, '$&\r\n').replace(/(.)(.)/, '$1 \t$2')}\n`;
    for (let at = 0; at <= wrapped.length; at++) expect(await decoded(cut(wrapped, [at]))).toEqual(bytes);
  });

  it('starts after `skip` bytes, which may span chunks', async () => {
    const uri = `data:image/png;base64,${text}`;
    for (let at = 0; at <= uri.length; at++) {
      expect(await decoded(cut(uri, [at]), 'data:image/png;base64,'.length)).toEqual(bytes);
    }
  });

  it('keeps groups of 4 aligned across MBs of chunks of odd sizes, with whitespace', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 2);
    for (const variant of [big.toString('base64'), big.toString('base64').replace(/.{76}/g, '$&\n')]) {
      const cuts: number[] = [];
      for (let at = 65_531; at < variant.length; at += 65_531 + (cuts.length % 7)) cuts.push(at);
      // Buffer.equals: a deep toEqual over MBs takes vitest seconds.
      expect(((await decoded(cut(variant, cuts))) as Buffer).equals(big)).toBe(true);
    }
  });

  it('gives the event loop a turn about every 256 KB', async () => {
    const big = Buffer.from(randomBytes(2 * 1024 * 1024).toString('base64'));
    let turns = 0;
    let done = false;
    const tick = () => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    await decodeBase64Slices(cut(big, []), { maxBytes: MAX });
    done = true;
    expect(turns).toBeGreaterThanOrEqual(Math.floor(big.length / TURN_BYTES) - 1);
  });

  it('refuses characters outside the alphabet, wherever they fall', async () => {
    for (const bad of ['!', '.', '\u00e9', '\u0000', '"']) {
      for (const at of [0, 1, 2, 3, 17, 34, text.length - 1]) {
        const broken = `${text.slice(0, at)}${bad}${text.slice(at)}`;
        for (const cutAt of [at, at + 1, broken.length]) {
          expect(await decoded(cut(broken, [cutAt])), `${bad} at ${at}`).toBe('not-base64');
        }
      }
    }
  });

  it('refuses a bad character in the open group at the end of a 64 KB piece', async () => {
    const long = Buffer.from(randomBytes(60_000).toString('base64'));
    for (const at of [65_533, 65_534, 65_535, 65_536]) {
      const broken = Buffer.from(long);
      broken[at] = 0x21;
      expect(await decoded([broken]), `! at ${at}`).toBe('not-base64');
    }
  });

  it('accepts `=` only at the end, at most two', async () => {
    expect(await decoded(cut('QUI=', [3]))).toEqual(Buffer.from('AB'));
    expect(await decoded(cut('QQ==\n', [3]))).toEqual(Buffer.from('A'));
    expect(await decoded(cut('QUI=QUJD', [4]))).toBe('not-base64');
    expect(await decoded(cut('Q===', []))).toBe('not-base64');
    expect(await decoded(cut('====', []))).toBe('not-base64');
  });

  it('refuses an empty or all-whitespace value', async () => {
    expect(await decoded([])).toBe('not-base64');
    expect(await decoded(cut(' \n\t ', [2]))).toBe('not-base64');
  });

  it('refuses more than maxBytes, without decoding the rest', async () => {
    const big = Buffer.from(randomBytes(300_000).toString('base64'));
    expect(await decoded([big], 0, 299_999)).toBe('too-large');
    expect(((await decoded([big], 0, 300_000)) as Buffer).length).toBe(300_000);
  });
});
