import type { TextConditioning } from '../text-conditioning.ts';

/**
 * The conditioning a weight `t` of the way from `a` to `b` (the same model's encodings of two
 * prompts with one negative prompt): each conditional input is mixed linearly, as the text
 * encoder's outputs are points in one space; the unconditional half is the negative prompt's, the
 * same in both.
 */
export function blendConditioning(a: TextConditioning, b: TextConditioning, t: number): TextConditioning {
  const inputs = a.inputs.map((input, i) => {
    const other = b.inputs[i];
    if (other === undefined || other.name !== input.name || other.cond.length !== input.cond.length) {
      throw new RangeError(`conditioning input ${input.name} differs between the two prompts`);
    }
    const cond = new Float32Array(input.cond.length);
    for (let j = 0; j < cond.length; j++) cond[j] = (1 - t) * input.cond[j]! + t * other.cond[j]!;
    return { ...input, cond };
  });
  return { inputs, truncatedWords: a.truncatedWords };
}
