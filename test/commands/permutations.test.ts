import { describe, expect, it } from 'vitest';
import { BATCH_MAX, expandPermutations } from '../../src/request/permutations.ts';

describe('permutation prompts', () => {
  it('makes one prompt per combination, the first group varying slowest', () => {
    expect(expandPermutations('a {red, blue} {circle, square}')).toEqual({
      ok: true,
      texts: ['a red circle', 'a red square', 'a blue circle', 'a blue square'],
    });
  });

  it('leaves a prompt without braces as it is', () => {
    expect(expandPermutations('a lighthouse --ar 16:9')).toEqual({
      ok: true,
      texts: ['a lighthouse --ar 16:9'],
    });
  });

  it('expands flags too, keeps escaped commas, and tidies an empty option', () => {
    expect(expandPermutations('a cat --ar {1:1, 16:9}')).toEqual({
      ok: true,
      texts: ['a cat --ar 1:1', 'a cat --ar 16:9'],
    });
    expect(expandPermutations('{salt\\, pepper, oil} on a plate')).toEqual({
      ok: true,
      texts: ['salt, pepper on a plate', 'oil on a plate'],
    });
    expect(expandPermutations('a {big, } dog')).toEqual({ ok: true, texts: ['a big dog', 'a dog'] });
  });

  it(`refuses more than ${BATCH_MAX} prompts before building them`, () => {
    const many = expandPermutations(`${'{a,b,c,d,e,f,g,h,i,j} '.repeat(12)}cat`);
    expect(many).toEqual({
      ok: false,
      message: `permutations: these braces make ${10 ** 12} prompts; at most ${BATCH_MAX} at once`,
    });
    expect(expandPermutations('{a, b, c} {d, e, f}')).toMatchObject({ ok: false });
    expect(expandPermutations('{a, b} {c, d} {e, f}')).toMatchObject({ ok: true });
  });

  it('says what is wrong with malformed braces', () => {
    expect(expandPermutations('a {red, blue cat')).toEqual({
      ok: false,
      message: 'permutations: a { that is never closed with }',
    });
    expect(expandPermutations('a red} cat')).toMatchObject({ ok: false, message: /without its \{/ });
    expect(expandPermutations('a {red, {blue}} cat')).toMatchObject({ ok: false, message: /nested/ });
    expect(expandPermutations('a { , } cat')).toMatchObject({ ok: false, message: /empty/ });
  });
});
