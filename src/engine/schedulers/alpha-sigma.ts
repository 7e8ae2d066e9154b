import type { PredictionType } from './prediction.ts';
import type { Tensor } from './tensor.ts';
import { linearCombination } from './tensor-math.ts';

const f32 = Math.fround;

/**
 * The VP parameterisation the exponential-integrator solvers (DPM-Solver, UniPC, DEIS) work in, from
 * a k-diffusion sigma: alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t and the half
 * log-SNR lambda = log(alpha_t / sigma_t). Scalars are float32 as diffusers' tensors.
 */
export interface AlphaSigma {
  alpha: number;
  sigma: number;
  lambda: number;
}

export function alphaSigmaLambda(sigma: number): AlphaSigma {
  const alpha = f32(1 / f32(Math.sqrt(f32(sigma * sigma + 1))));
  const s = f32(sigma * alpha);
  return { alpha, sigma: s, lambda: Math.log(alpha) - Math.log(s) };
}

/** The data prediction x0 implied by a model output at `at` (diffusers' `convert_model_output`, x0 branch). */
export function dataPrediction(
  predictionType: PredictionType,
  modelOutput: Tensor,
  sample: Tensor,
  at: AlphaSigma,
): Tensor {
  if (predictionType === 'sample') return modelOutput;
  if (predictionType === 'epsilon') {
    return linearCombination([
      [1 / at.alpha, sample],
      [-at.sigma / at.alpha, modelOutput],
    ]);
  }
  return linearCombination([
    [at.alpha, sample],
    [-at.sigma, modelOutput],
  ]);
}

/** The noise prediction epsilon = (x - alpha_t x0) / sigma_t implied by a data prediction. */
export function noiseFromData(x0: Tensor, sample: Tensor, at: AlphaSigma): Tensor {
  return linearCombination([
    [1 / at.sigma, sample],
    [-at.alpha / at.sigma, x0],
  ]);
}

/** The forward process in VP form: alpha_t x0 + sigma_t noise. */
export function noiseAtAlphaSigma(original: Tensor, noise: Tensor, at: AlphaSigma): Tensor {
  return linearCombination([
    [at.alpha, original],
    [at.sigma, noise],
  ]);
}

/**
 * How many training timesteps remain once those whose lambda is below `lambdaMinClipped` are cut
 * (diffusers' `searchsorted(flip(lambda_t), lambda_min_clipped)`): all of them by default (-inf).
 */
export function timestepsAboveLambda(alphasCumprod: Float64Array, lambdaMinClipped: number): number {
  let clipped = 0;
  for (const a of alphasCumprod) {
    const lambda = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
    if (lambda < lambdaMinClipped) clipped += 1;
  }
  return alphasCumprod.length - clipped;
}
