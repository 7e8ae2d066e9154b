import type { Tensor } from './tensor.ts';

/**
 * Imagen's dynamic thresholding, as diffusers' `_threshold_sample`: per batch item, `s` is the
 * `ratio` quantile of |x0| (torch.quantile's linear interpolation), clamped to `[1, maxValue]`;
 * x0 is clamped to `[-s, s]` and divided by `s`.
 */
export function dynamicThreshold(sample: Tensor, ratio: number, maxValue: number): Tensor {
  const batch = sample.dims[0] ?? 1;
  const per = batch === 0 ? 0 : sample.data.length / batch;
  const out = new Float32Array(sample.data.length);
  for (let b = 0; b < batch; b++) {
    const slice = sample.data.subarray(b * per, (b + 1) * per);
    const sorted = Float64Array.from(slice, Math.abs).sort();
    const rank = ratio * (per - 1);
    const lo = Math.floor(rank);
    const hi = Math.ceil(rank);
    const below = sorted[lo] as number;
    const quantile = below + ((sorted[hi] as number) - below) * (rank - lo);
    const s = Math.min(Math.max(Math.fround(quantile), 1), maxValue);
    for (let i = 0; i < per; i++) {
      const v = slice[i] as number;
      out[b * per + i] = (v < -s ? -s : v > s ? s : v) / s;
    }
  }
  return { data: out, dims: [...sample.dims] };
}
