import type { Tensor } from '../../../src/engine/schedulers/tensor.ts';

/**
 * The fixtures of diffusers' scheduler tests (tests/schedulers/test_schedulers.py,
 * `SchedulerCommonTest`), so their published full-loop values can be checked here.
 */
const BATCH = 4;
const CHANNELS = 3;
const HEIGHT = 8;
const WIDTH = 8;
const NUM_ELEMS = BATCH * CHANNELS * HEIGHT * WIDTH;

/**
 * `arange(num_elems)` (optionally flipped) reshaped to (C, H, W, B), divided by num_elems and
 * permuted to (B, C, H, W): element [b, c, h, w] is value index ((c * H + h) * W + w) * B + b.
 */
function deterministic(flip: boolean): Tensor {
  const data = new Float32Array(NUM_ELEMS);
  for (let b = 0; b < BATCH; b++) {
    for (let c = 0; c < CHANNELS; c++) {
      for (let h = 0; h < HEIGHT; h++) {
        for (let w = 0; w < WIDTH; w++) {
          const source = ((c * HEIGHT + h) * WIDTH + w) * BATCH + b;
          const value = flip ? NUM_ELEMS - 1 - source : source;
          data[((b * CHANNELS + c) * HEIGHT + h) * WIDTH + w] = value / NUM_ELEMS;
        }
      }
    }
  }
  return { data, dims: [BATCH, CHANNELS, HEIGHT, WIDTH] };
}

/**
 * The 1-D fixtures of diffusers' UniPCMultistepScheduler1DTest: `arange(4 * 3 * 8)` reshaped to
 * (C, W, B), divided by num_elems and permuted to (B, C, W).
 */
function deterministic1d(flip: boolean): Tensor {
  const n = BATCH * CHANNELS * WIDTH;
  const data = new Float32Array(n);
  for (let b = 0; b < BATCH; b++) {
    for (let c = 0; c < CHANNELS; c++) {
      for (let w = 0; w < WIDTH; w++) {
        const source = (c * WIDTH + w) * BATCH + b;
        data[(b * CHANNELS + c) * WIDTH + w] = (flip ? n - 1 - source : source) / n;
      }
    }
  }
  return { data, dims: [BATCH, CHANNELS, WIDTH] };
}

/** `UniPCMultistepScheduler1DTest.dummy_sample_deter` and `dummy_noise_deter`. */
export function dummySampleDeter1d(): Tensor {
  return deterministic1d(false);
}

export function dummyNoiseDeter1d(): Tensor {
  return deterministic1d(true);
}

/** `SchedulerCommonTest.dummy_sample_deter`. */
export function dummySampleDeter(): Tensor {
  return deterministic(false);
}

/** `SchedulerCommonTest.dummy_noise_deter` (the same ramp, flipped). */
export function dummyNoiseDeter(): Tensor {
  return deterministic(true);
}

/** `SchedulerCommonTest.dummy_model`: `sample * t / (t + 1)`, in float32 like torch. */
export function dummyModel(sample: Tensor, t: number): Tensor {
  const out = new Float32Array(sample.data.length);
  const denominator = Math.fround(t + 1);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.fround(Math.fround((sample.data[i] as number) * t) / denominator);
  return { data: out, dims: [...sample.dims] };
}

/** `torch.sum(torch.abs(x))` and `torch.mean(torch.abs(x))`. */
export function absStats(x: Tensor): { sum: number; mean: number } {
  let sum = 0;
  for (const v of x.data) sum += Math.abs(v);
  return { sum, mean: sum / x.data.length };
}

export function scaleTensor(x: Tensor, s: number): Tensor {
  return { data: x.data.map((v) => v * s), dims: [...x.dims] };
}
