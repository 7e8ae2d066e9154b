import { describe, expect, it } from 'vitest';
import { seededNormal } from '../../src/engine/seeded-noise.ts';
import { blendConditioning } from '../../src/engine/video/conditioning-blend.ts';
import { morphWeights, walkPositions } from '../../src/engine/video/frame-plan.ts';
import { slerp } from '../../src/engine/video/slerp.ts';

const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

describe('slerp of noise', () => {
  it('keeps the ends and keeps the norm of Gaussian noise in between, where a line loses it', () => {
    const a = seededNormal(1, 0, 4096);
    const b = seededNormal(2, 0, 4096);
    expect(slerp(a, b, 0)).toEqual(a);
    for (let i = 0; i < a.length; i += 512) expect(slerp(a, b, 1)[i]).toBeCloseTo(b[i]!, 5);
    const middle = slerp(a, b, 0.5);
    const line = a.map((x, i) => 0.5 * x + 0.5 * b[i]!);
    expect(norm(middle) / norm(a)).toBeCloseTo(1, 1);
    expect(norm(line) / norm(a)).toBeLessThan(0.8);
  });

  it('refuses vectors of different lengths', () => {
    expect(() => slerp(new Float32Array(3), new Float32Array(4), 0.5)).toThrow(RangeError);
  });
});

describe('frame plans', () => {
  it('walks an open clip from the seed to the next one over 8 frames, both ends shown', () => {
    const walk = walkPositions(10, 8, false);
    expect(walk[0]).toEqual({ from: 10, to: 11, t: 0 });
    expect(walk[7]).toEqual({ from: 10, to: 11, t: 1 });
    expect(walkPositions(10, 17, false).map((p) => p.from)).toContain(11);
  });

  it('walks a looping clip back to its first seed, leaving out the repeated frame', () => {
    const walk = walkPositions(10, 16, true);
    expect(walk[0]).toEqual({ from: 10, to: 11, t: 0 });
    expect(walk[8]).toEqual({ from: 11, to: 10, t: 0 });
    expect(walk[15]!.to).toBe(10);
    expect(walk[15]!.t).toBeLessThan(1);
  });

  it('morphs 0 to 1, or there and back when looping', () => {
    expect(morphWeights(5, false)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(morphWeights(4, true)).toEqual([0, 0.5, 1, 0.5]);
  });

  it('blends the conditional half only, and refuses encodings of different shapes', () => {
    const input = (cond: number[], name = 'encoder_hidden_states') => ({
      name,
      uncond: new Float32Array([9, 9]),
      cond: new Float32Array(cond),
      shape: [2],
    });
    const a = { inputs: [input([0, 10])], truncatedWords: [] };
    const b = { inputs: [input([10, 20])], truncatedWords: [] };
    const mixed = blendConditioning(a, b, 0.25).inputs[0]!;
    expect([...mixed.cond]).toEqual([2.5, 12.5]);
    expect([...mixed.uncond]).toEqual([9, 9]);
    expect(() =>
      blendConditioning(a, { inputs: [input([1], 'text_embeds')], truncatedWords: [] }, 0.5),
    ).toThrow(RangeError);
  });
});
