import { describe, expect, it } from 'vitest';
import { JsonStringUnescaper } from '../../src/api/json-string-unescaper.ts';

/** The value bytes of a JSON string body fed in pieces cut at `cuts`; undefined when refused. */
function unescaped(raw: string, cuts: number[]): Buffer | undefined {
  const bytes = Buffer.from(raw);
  const unescaper = new JsonStringUnescaper();
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    const piece = unescaper.write(Buffer.from(bytes.subarray(from, to)));
    if (piece === undefined) return undefined;
    out.push(piece);
    from = to;
  }
  const tail = unescaper.end();
  return tail && Buffer.concat([...out, tail]);
}

describe('JsonStringUnescaper', () => {
  const cases = [
    'plain base64 QUJD+/==',
    String.raw`https:\/\/example.com\/a.png`,
    String.raw`QUJD\nREVG\r\nR0hJ\t`,
    String.raw`\"\\\/\b\f\n\r\t`,
    String.raw`\u0041\u00e9\u20ac\uD83E\uDD80 é €`,
    String.raw`lone \ud800 high, lone \udc00 low, \ud800\u0041, \ud800\n, end \ud800`,
  ];

  it('makes the same bytes as JSON.parse then Buffer.from, cut anywhere', () => {
    for (const raw of cases) {
      const expected = Buffer.from(JSON.parse(`"${raw}"`) as string);
      const length = Buffer.byteLength(raw);
      for (let a = 0; a <= length; a++) {
        for (let b = a; b <= length; b += 3) {
          expect(unescaped(raw, [a, b])?.toString('hex'), `${raw} cut at ${a}, ${b}`).toBe(
            expected.toString('hex'),
          );
        }
      }
    }
  });

  it('gives a piece without escapes back as it is, uncopied', () => {
    const piece = Buffer.from('QUJDREVG');
    expect(new JsonStringUnescaper().write(piece)).toBe(piece);
  });

  it('refuses what JSON.parse refuses', () => {
    for (const raw of ['a\nb', 'a\u0000', '\\x41', '\\u00g1', '\\u12']) {
      expect(() => JSON.parse(`"${raw}"`)).toThrow();
      for (let at = 0; at <= raw.length; at++)
        expect(unescaped(raw, [at]), JSON.stringify(raw)).toBeUndefined();
    }
  });
});
