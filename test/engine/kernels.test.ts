import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { assembleKernels, KERNELS_WASM } from '../../src/engine/kernels/build-kernels.ts';
import {
  combineInto,
  eulerFromOutputInto,
  eulerStepInto,
  flowEulerNoiseInto,
  guideInto,
  philoxBlocks,
  planarToRgbInto,
  scaleInto,
} from '../../src/engine/kernels/kernels.ts';
import { philox4x32, seededNormal } from '../../src/engine/seeded-noise.ts';

/**
 * Each WebAssembly kernel against the JavaScript loop it stands for, bit for bit: on values of
 * every kind (signed zeros, subnormals, infinities, NaN, the extremes of float32), at lengths that
 * are not a multiple of four and that span several of the kernels' chunks.
 */
const f32 = Math.fround;

const SPECIAL = [
  0,
  -0,
  1,
  -1,
  1e-45,
  -1e-45,
  1.17549435e-38,
  3.4028234e38,
  -3.4028234e38,
  Infinity,
  -Infinity,
  NaN,
];

function values(n: number, seed: number, spread = 4): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] =
      i < SPECIAL.length * 3 && i % 3 === seed % 3 ? SPECIAL[(i / 3) | 0]! : ((s / 2 ** 32) * 2 - 1) * spread;
  }
  return out;
}

/** Same bits, except that any NaN equals any NaN (a NaN's payload is not kept by either). */
function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(actual[i]) && Number.isNaN(expected[i])) continue;
    if (a[i] !== e[i]) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  expect(
    mismatches,
    first < 0
      ? ''
      : `first at ${first}: ${actual[first]} (0x${a[first]!.toString(16)}) vs ${expected[first]}`,
  ).toBe(0);
}

// Lengths: below one vector, one chunk plus an odd tail, several chunks.
const LENGTHS = [3, 16384 + 5, 3 * 16384 + 2];

describe('float kernels', () => {
  it('the committed kernels.wasm is what kernels.wat assembles to (npm run build:kernels)', async () => {
    expect(Buffer.from(await readFile(KERNELS_WASM)).equals(Buffer.from(await assembleKernels()))).toBe(true);
  });

  for (const n of LENGTHS) {
    it(`combine gives linearCombination's float64 sum for 1 to 6 terms (${n} values)`, () => {
      for (let k = 1; k <= 6; k++) {
        const inputs = Array.from({ length: k }, (_, i) => values(n, 11 + i));
        const coefficients = [0.7, -1.3, 2.5e-3, f32(0.1), -7, 1 / 3].slice(0, k);
        const expected = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          let sum = 0;
          for (let t = 0; t < k; t++) sum += coefficients[t]! * inputs[t]![i]!;
          expected[i] = sum;
        }
        const out = new Float32Array(n);
        combineInto(out, coefficients, inputs);
        expectSameBits(out, expected);
      }
    });

    it(`scale, guide and the Euler steps match their loops (${n} values)`, () => {
      const x = values(n, 1);
      const y = values(n, 2);
      const z = values(n, 3);
      const sigma = f32(14.6146);
      const sigmaNext = f32(11.9);
      const dt = f32(sigmaNext - sigma);

      const scaled = new Float32Array(n);
      scaleInto(scaled, x, f32(0.068));
      expectSameBits(
        scaled,
        x.map((v) => f32(0.068) * v),
      );

      const guided = new Float32Array(n);
      guideInto(guided, x, y, 7.5);
      expectSameBits(
        guided,
        x.map((u, i) => u + 7.5 * (y[i]! - u)),
      );

      const stepped = new Float32Array(n);
      eulerStepInto(stepped, x, y, sigma, dt);
      expectSameBits(
        stepped,
        x.map((v, i) => v + f32((v - y[i]!) / sigma) * dt),
      );

      // Epsilon and v-prediction coefficients, as eulerStepFromOutput derives them.
      const s2 = f32(sigma * sigma + 1);
      for (const [a, b] of [
        [1, -sigma],
        [1 / s2, f32(-sigma / f32(Math.sqrt(s2)))],
      ] as const) {
        const next = new Float32Array(n);
        eulerFromOutputInto(next, x, y, { a, b, sigma, dt });
        const x0 = x.map((v, i) => f32(a * v + b * y[i]!));
        expectSameBits(
          next,
          x.map((v, i) => v + f32((v - x0[i]!) / sigma) * dt),
        );
      }

      const flowNext = new Float32Array(n);
      const keep = f32(1 - f32(0.85));
      flowEulerNoiseInto(flowNext, x, y, z, { sigma: f32(0.9), keep, sigmaNext: f32(0.85) });
      const denoised = x.map((v, i) => f32(v - f32(0.9) * y[i]!));
      expectSameBits(
        flowNext,
        denoised.map((d, i) => keep * d + f32(0.85) * z[i]!),
      );
    });
  }

  it('writes a result over one of its inputs', () => {
    const x = values(40000, 5);
    const y = values(40000, 6);
    const expected = x.map((u, i) => u + 3 * (y[i]! - u));
    guideInto(x, x, y, 3);
    expectSameBits(x, expected);
    // Euler a adds its noise over its deterministic step this way.
    const z = values(40000, 7);
    const combined = x.map((v, i) => 0 + 1 * v + 0.25 * z[i]!);
    combineInto(x, [1, 0.25], [x, z]);
    expectSameBits(x, combined);
  });

  it('planarToRgb rounds half up, clamps and maps NaN to 128, pixel by pixel', () => {
    for (const n of LENGTHS) {
      const planes = [values(n, 7, 1.2), values(n, 8, 1.2), values(n, 9, 1.2)] as const;
      // The rounding edges: (x + 1) * 127.5 at k + 0.5 and just below it.
      for (let k = 0; k < Math.min(n, 256); k++) {
        planes[1][k] = f32((k + 0.5) / 127.5 - 1);
        planes[2][k] = f32(planes[1][k]! - 1e-7);
      }
      const out = new Uint8Array(3 * n);
      planarToRgbInto(out, ...planes);
      const toByte = (x: number) =>
        Number.isNaN(x) ? 128 : Math.max(0, Math.min(255, Math.round((x + 1) * 127.5)));
      const expected = new Uint8Array(3 * n);
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) expected[3 * i + c] = toByte(planes[c]![i]!);
      expect(Buffer.from(out).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('philox gives philox4x32 words for every counter, across chunks, lanes and past 2^31', () => {
    for (const [key, stream, first] of [
      [[42, 0], 0, 0],
      [[0xffffffff, 0x12345678], 7, 2 ** 31 - 3000],
    ] as const) {
      const words: number[] = [];
      let nextBlock = first;
      philoxBlocks(key, stream, first, 9000, (chunk, firstBlock) => {
        expect(firstBlock).toBe(nextBlock);
        nextBlock += chunk.length / 4;
        words.push(...chunk);
      });
      expect(words.length).toBe(4 * 9000);
      // Every block: the kernel works four blocks at a time, one per lane, and 9000 is not a
      // multiple of four.
      const expected: number[] = [];
      for (let j = 0; j < 9000; j++) expected.push(...philox4x32([first + j, 0, stream, 0x65617365], key));
      expect(words).toEqual(expected);
    }
  });

  it('seededNormal is Box-Muller on the philox words, value for value', () => {
    const count = 5 * 4096 + 3;
    const noise = seededNormal(2 ** 40 + 17, 3, count);
    const key = [17, 256];
    for (const index of [0, 1, 2, 3, 4095 * 4 + 2, count - 2, count - 1]) {
      const words = philox4x32([Math.floor(index / 4), 0, 3, 0x65617365], key);
      const pair = index % 4 < 2 ? 0 : 2;
      const radius = Math.sqrt(-2 * Math.log((words[pair]! + 0.5) / 2 ** 32));
      const angle = 2 * Math.PI * ((words[pair + 1]! + 0.5) / 2 ** 32);
      expect(noise[index]).toBe(f32(index % 2 === 0 ? radius * Math.cos(angle) : radius * Math.sin(angle)));
    }
  });

  it('refuses inputs of different lengths, naming the kernel', () => {
    expect(() => guideInto(new Float32Array(8), new Float32Array(8), new Float32Array(7), 1)).toThrow(
      /guide: 7 values, expected 8/,
    );
    expect(() =>
      planarToRgbInto(new Uint8Array(10), new Float32Array(4), new Float32Array(4), new Float32Array(4)),
    ).toThrow(/planarToRgb: 10 bytes, expected 12/);
  });
});
