import { philoxBlocks } from './kernels/kernels.ts';

/**
 * Seeded Gaussian noise from a counter-based generator (Philox4x32-10, as in Random123 and torch's
 * CUDA generator) and Box-Muller. Element i of stream s under seed k is a pure function of (k, s, i):
 * no hidden state, nothing depends on how many other numbers were drawn before, so the same seed
 * gives the same latents whatever the batch size, the provider or the order of the work.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulHi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const loLo = aLo * bLo;
  const loHi = aLo * bHi;
  const hiLo = aHi * bLo;
  const cross = (loLo >>> 16) + (loHi & 0xffff) + (hiLo & 0xffff);
  return (aHi * bHi + (loHi >>> 16) + (hiLo >>> 16) + Math.floor(cross / 0x10000)) >>> 0;
}

/**
 * Philox4x32 with 10 rounds: four 32-bit words of counter, two of key, four words out. The reference
 * the WebAssembly kernel that seededNormal uses (kernels.ts's philoxBlocks) is tested against.
 */
export function philox4x32(
  counter: readonly number[],
  key: readonly number[],
  out = new Uint32Array(4),
): Uint32Array {
  let c0 = counter[0]! >>> 0;
  let c1 = counter[1]! >>> 0;
  let c2 = counter[2]! >>> 0;
  let c3 = counter[3]! >>> 0;
  let k0 = key[0]! >>> 0;
  let k1 = key[1]! >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulHi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

const TWO_POW_32 = 4294967296;

/**
 * `count` standard normal values for `seed` (a whole number up to 2^53) on `stream` (which draw of
 * the render this is: 0 for the starting latents, 1.. for sampler steps).
 */
export function seededNormal(
  seed: number,
  stream: number,
  count: number,
  /** Where to write them (a batch's slice for this seed), instead of a new array. */
  out = new Float32Array(count),
): Float32Array {
  if (out.length !== count) throw new RangeError(`seededNormal: ${out.length} values for ${count}`);
  const key = [(seed % TWO_POW_32) >>> 0, Math.floor(seed / TWO_POW_32) >>> 0] as const;
  // The words come from the WebAssembly kernel (philox4x32's arithmetic, with exact 64-bit products).
  philoxBlocks(key, stream >>> 0, 0, Math.ceil(count / 4), (words, firstBlock) =>
    boxMuller(words, firstBlock * 4, out, count),
  );
  return out;
}

/**
 * Box-Muller over pairs of Philox words, into `out` from `index` on (values past `count` dropped).
 * A module-level function rather than a closure per call: V8 keeps its optimised code from one
 * render to the next, where a fresh closure's loop started cold (interpreted, boxing every double)
 * on each call.
 */
function boxMuller(words: Uint32Array, index: number, out: Float32Array, count: number): void {
  for (let w = 0; w < words.length; w += 2, index += 2) {
    // Uniforms in (0, 1): the half-step offset keeps log() away from zero.
    const u1 = (words[w]! + 0.5) / TWO_POW_32;
    const u2 = (words[w + 1]! + 0.5) / TWO_POW_32;
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    if (index < count) out[index] = radius * Math.cos(angle);
    if (index + 1 < count) out[index + 1] = radius * Math.sin(angle);
  }
}

/**
 * Noise for a batch whose images each have their own seed (image i of a request renders with
 * seed + i, as AUTOMATIC1111 does, so an image can be re-rendered alone). Each call draws a fresh
 * stream, so a sampler that adds noise at every step gets new noise each time, deterministically.
 */
export class BatchNoise {
  private stream = 0;

  constructor(readonly seeds: readonly number[]) {}

  /** Normal noise shaped `dims`, whose first dimension is the batch (one seed per item). */
  randn(dims: readonly number[]): Float32Array {
    const [batch, ...rest] = dims;
    if (batch !== this.seeds.length) {
      throw new RangeError(`noise for a batch of ${batch} but ${this.seeds.length} seeds`);
    }
    const perItem = rest.reduce((a, b) => a * b, 1);
    const stream = this.stream++;
    const out = new Float32Array(batch * perItem);
    this.seeds.forEach((seed, i) => {
      seededNormal(seed, stream, perItem, out.subarray(i * perItem, (i + 1) * perItem));
    });
    return out;
  }
}
