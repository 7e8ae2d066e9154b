import { readFileSync } from 'node:fs';

/**
 * The denoising loop's element-wise arithmetic and the picture's conversion to bytes, run by the
 * WebAssembly SIMD kernels of kernels.wat. JavaScript's typed-array loops manage about one
 * value per nanosecond; the kernels do four at a time, so easel's own share of a render on a fast
 * network stays small (npm run bench:engine). Every kernel gives the same bits as the loop it
 * replaces (kernels.wat says how), so pictures do not change.
 *
 * The kernels work in their own memory: each call copies its inputs in and its results out in
 * chunks of CHUNK values, so the memory stays a few hundred KiB whatever the tensor's size, a
 * chunk's regions stay in the CPU's cache, and results may be written over an input.
 */

interface KernelExports {
  memory: WebAssembly.Memory;
  combine(out: number, terms: number, k: number, n: number): void;
  combine2(out: number, c0: number, x0: number, c1: number, x1: number, n: number): void;
  scale(out: number, x: number, s: number, n: number): void;
  guide(out: number, u: number, c: number, s: number, n: number): void;
  eulerStep(out: number, x: number, x0: number, sigma: number, dt: number, n: number): void;
  eulerFromOutput(
    next: number,
    x: number,
    output: number,
    a: number,
    b: number,
    sigma: number,
    dt: number,
    n: number,
  ): void;
  flowEulerNoise(
    next: number,
    x: number,
    v: number,
    noise: number,
    sigma: number,
    keep: number,
    sigmaNext: number,
    n: number,
  ): void;
  planarToRgb(out: number, r: number, g: number, b: number, n: number): void;
  philox(out: number, first: number, blocks: number, stream: number, k0: number, k1: number): void;
}

/** Values per chunk: 64 KiB per float region. */
const CHUNK = 16384;
const REGION_BYTES = CHUNK * 4;
/** The combine kernel's table of terms: 16 bytes each, in the region after the chunks'. */
const TERM_BYTES = 16;
const PAGE = 65536;

const KERNELS_WASM = new URL('./kernels.wasm', import.meta.url);

const kernels = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(KERNELS_WASM)))
  .exports as unknown as KernelExports;

let f32 = new Float32Array(kernels.memory.buffer);
let u8 = new Uint8Array(kernels.memory.buffer);
let view = new DataView(kernels.memory.buffer);

/** Grows the memory (and renews the views) to hold `regions` regions and `extraBytes` after them. */
function regionsFor(regions: number, extraBytes = 0): void {
  const bytes = regions * REGION_BYTES + extraBytes;
  const memory = kernels.memory;
  if (memory.buffer.byteLength >= bytes) return;
  memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  f32 = new Float32Array(memory.buffer);
  u8 = new Uint8Array(memory.buffer);
  view = new DataView(memory.buffer);
}

const at = (region: number) => region * REGION_BYTES;

function copyIn(region: number, source: Float32Array, start: number, count: number): number {
  f32.set(source.subarray(start, start + count), region * CHUNK);
  return at(region);
}

function copyOut(target: Float32Array, start: number, region: number, count: number): void {
  target.set(f32.subarray(region * CHUNK, region * CHUNK + count), start);
}

function sameLength(what: string, out: Float32Array | Uint8Array, ...inputs: Float32Array[]): number {
  const n = out.length;
  for (const input of inputs) {
    if (input.length !== n) throw new RangeError(`${what}: ${input.length} values, expected ${n}`);
  }
  return n;
}

/**
 * Runs `kernel` over [0, n) a chunk at a time: `inputs` are copied into regions 0.., the kernel
 * writes `outputs.length` regions after them, which are copied to `outputs`.
 */
function chunked(
  n: number,
  inputs: Float32Array[],
  outputs: Float32Array[],
  kernel: (input: number[], output: number[], count: number) => void,
): void {
  regionsFor(inputs.length + outputs.length);
  const inputAt = inputs.map((_, i) => at(i));
  const outputAt = outputs.map((_, i) => at(inputs.length + i));
  for (let start = 0; start < n; start += CHUNK) {
    const count = Math.min(CHUNK, n - start);
    for (let i = 0; i < inputs.length; i++) copyIn(i, inputs[i]!, start, count);
    kernel(inputAt, outputAt, count);
    for (let i = 0; i < outputs.length; i++) copyOut(outputs[i]!, start, inputs.length + i, count);
  }
}

/** out = 0 + c[0] * x[0] + c[1] * x[1] + ..., summed in float64 in term order, rounded once. */
export function combineInto(
  out: Float32Array,
  coefficients: readonly number[],
  inputs: Float32Array[],
): void {
  const n = sameLength('combine', out, ...inputs);
  const k = inputs.length;
  if (k === 2) {
    const [c0, c1] = coefficients as [number, number];
    chunked(n, inputs, [out], ([a, b], [o], count) => kernels.combine2(o!, c0, a!, c1, b!, count));
    return;
  }
  regionsFor(k + 1, k * TERM_BYTES);
  const table = at(k + 1);
  for (let i = 0; i < k; i++) {
    view.setFloat64(table + i * TERM_BYTES, coefficients[i]!, true);
    view.setInt32(table + i * TERM_BYTES + 8, at(i), true);
  }
  chunked(n, inputs, [out], (_, [o], count) => kernels.combine(o!, table, k, count));
}

/** out = s * x */
export function scaleInto(out: Float32Array, x: Float32Array, s: number): void {
  const n = sameLength('scale', out, x);
  chunked(n, [x], [out], ([xi], [o], count) => kernels.scale(o!, xi!, s, count));
}

/** Classifier-free guidance: out = uncond + s * (cond - uncond). */
export function guideInto(out: Float32Array, uncond: Float32Array, cond: Float32Array, s: number): void {
  const n = sameLength('guide', out, uncond, cond);
  chunked(n, [uncond, cond], [out], ([u, c], [o], count) => kernels.guide(o!, u!, c!, s, count));
}

/** The Euler step from x0: out = x + fround((x - x0) / sigma) * dt. */
export function eulerStepInto(
  out: Float32Array,
  x: Float32Array,
  x0: Float32Array,
  sigma: number,
  dt: number,
): void {
  const n = sameLength('eulerStep', out, x, x0);
  chunked(n, [x, x0], [out], ([xi, x0i], [o], count) => kernels.eulerStep(o!, xi!, x0i!, sigma, dt, count));
}

/** The Euler step from a model output: x0 = fround(a * x + b * output), next = x + fround((x - x0) / sigma) * dt. */
export function eulerFromOutputInto(
  next: Float32Array,
  x: Float32Array,
  output: Float32Array,
  coefficients: { a: number; b: number; sigma: number; dt: number },
): void {
  const n = sameLength('eulerFromOutput', next, x, output);
  const { a, b, sigma, dt } = coefficients;
  chunked(n, [x, output], [next], ([xi, oi], [o], count) =>
    kernels.eulerFromOutput(o!, xi!, oi!, a, b, sigma, dt, count),
  );
}

/** The stochastic flow step: x0 = fround(x - sigma * v), next = keep * x0 + sigmaNext * noise. */
export function flowEulerNoiseInto(
  next: Float32Array,
  x: Float32Array,
  v: Float32Array,
  noise: Float32Array,
  coefficients: { sigma: number; keep: number; sigmaNext: number },
): void {
  const n = sameLength('flowEulerNoise', next, x, v, noise);
  const { sigma, keep, sigmaNext } = coefficients;
  chunked(n, [x, v, noise], [next], ([xi, vi, ni], [o], count) =>
    kernels.flowEulerNoise(o!, xi!, vi!, ni!, sigma, keep, sigmaNext, count),
  );
}

/**
 * Three planes of values in [-1, 1] as interleaved RGB bytes: each Math.round((x + 1) * 127.5),
 * clamped to [0, 255], NaN as 128.
 */
export function planarToRgbInto(out: Uint8Array, r: Float32Array, g: Float32Array, b: Float32Array): void {
  const n = sameLength('planarToRgb', r, g, b);
  if (out.length !== 3 * n) throw new RangeError(`planarToRgb: ${out.length} bytes, expected ${3 * n}`);
  // Regions 0-2 the planes, 3 the bytes (3 * CHUNK plus the overhang of the last four values).
  regionsFor(4);
  const bytesAt = at(3);
  for (let start = 0; start < n; start += CHUNK) {
    const count = Math.min(CHUNK, n - start);
    kernels.planarToRgb(
      bytesAt,
      copyIn(0, r, start, count),
      copyIn(1, g, start, count),
      copyIn(2, b, start, count),
      count,
    );
    out.set(u8.subarray(bytesAt, bytesAt + 3 * count), 3 * start);
  }
}

/**
 * Philox4x32-10's output for the counters (first + j, 0, stream, 0x65617365), j < blocks, under
 * `key`: four words per block, as seeded-noise.ts's philox4x32 gives them, a chunk at a time to
 * `each(words, firstBlock)`. The words are a view of the kernels' memory, valid during the call.
 */
export function philoxBlocks(
  key: readonly [number, number],
  stream: number,
  first: number,
  blocks: number,
  each: (words: Uint32Array, firstBlock: number) => void,
): void {
  if (first + blocks > 2 ** 32) throw new RangeError(`philox: counter ${first + blocks} past 2^32`);
  regionsFor(1);
  const perChunk = CHUNK / 4;
  for (let done = 0; done < blocks; done += perChunk) {
    const count = Math.min(perChunk, blocks - done);
    kernels.philox(at(0), first + done, count, stream, key[0], key[1]);
    each(new Uint32Array(kernels.memory.buffer, at(0), 4 * count), first + done);
  }
}
