import { npLinspace } from './numpy-ranges.ts';

/**
 * Noise levels in the k-diffusion parameterisation (x = x0 + sigma * eps), as diffusers'
 * sigma-based schedulers (Euler, Euler ancestral, DPM-Solver) compute them.
 */

const f32 = Math.fround;

/**
 * Results by input array: a noise schedule's arrays are shared (readNoiseSchedule), so every
 * scheduler of a model asks for the same sigmas, once per render. Callers only read them.
 */
const sigmasOf = new WeakMap<Float64Array, Float64Array>();
const logsOf = new WeakMap<Float64Array, Float64Array>();

function memo(
  cache: WeakMap<Float64Array, Float64Array>,
  input: Float64Array,
  make: (input: Float64Array) => Float64Array,
): Float64Array {
  let out = cache.get(input);
  if (out === undefined) {
    out = make(input);
    cache.set(input, out);
  }
  return out;
}

/**
 * sigma(t) = sqrt((1 - alphas_cumprod[t]) / alphas_cumprod[t]) for every training timestep,
 * ascending in t, float32. Shared between callers of the same array: copy before writing.
 */
export function trainingSigmas(alphasCumprod: Float64Array): Float64Array {
  return memo(sigmasOf, alphasCumprod, (alphas) => alphas.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a)))));
}

/** `np.interp(x, arange(len(fp)), fp)`: piecewise-linear, clamped at both ends. */
export function interpAtIndex(x: number, fp: Float64Array): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0] as number;
  if (x >= last) return fp[last] as number;
  const j = Math.floor(x);
  const lo = fp[j] as number;
  return ((fp[j + 1] as number) - lo) * (x - j) + lo;
}

/**
 * Karras et al. 2022 (eq. 5) noise levels, rho = 7: `n` sigmas from `sigmaMax` down to `sigmaMin`,
 * evenly spaced in sigma^(1/rho).
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return npLinspace(0, 1, n).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose sigma is `sigma`, interpolating
 * linearly in log-sigma between the two neighbouring training timesteps.
 */
export function sigmaToTimestep(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // Last index whose log-sigma is <= logSigma (diffusers: cumsum(dists >= 0).argmax), kept below the end.
  let lowIdx = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - (logSigmas[i] as number) >= 0) lowIdx = i;
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const low = logSigmas[lowIdx] as number;
  const high = logSigmas[lowIdx + 1] as number;
  const w = Math.min(Math.max((low - logSigma) / (low - high), 0), 1);
  return (1 - w) * lowIdx + w * (lowIdx + 1);
}

/** log of each training sigma, float32 like numpy's `np.log` on a float32 array. Shared, as trainingSigmas. */
export function logSigmasOf(sigmas: Float64Array): Float64Array {
  return memo(logsOf, sigmas, (values) => values.map((s) => f32(Math.log(s))));
}
