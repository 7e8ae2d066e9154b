import { dynamicThreshold } from './dynamic-threshold.ts';
import { readBoolean, readChoice, readNumber, type SchedulerConfig } from './scheduler-config.ts';
import type { Tensor } from './tensor.ts';
import { clamp, linearCombination } from './tensor-math.ts';

/** What the model predicts: the noise, the velocity v (Salimans & Ho 2022) or the clean sample. */
export const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];

export function readPredictionType(config: SchedulerConfig): PredictionType {
  return readChoice(config, 'prediction_type', PREDICTION_TYPES, 'epsilon');
}

/** How the predicted clean sample is kept in range: `clip_sample` or dynamic `thresholding`. */
export interface X0Limits {
  clipSample: boolean;
  clipSampleRange: number;
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
}

export function readX0Limits(config: SchedulerConfig, clipSampleDefault: boolean): X0Limits {
  return {
    clipSample: readBoolean(config, 'clip_sample', clipSampleDefault),
    clipSampleRange: readNumber(config, 'clip_sample_range', 1, { min: 0, exclusiveMin: true }),
    thresholding: readBoolean(config, 'thresholding', false),
    dynamicThresholdingRatio: readNumber(config, 'dynamic_thresholding_ratio', 0.995, { min: 0, max: 1 }),
    sampleMaxValue: readNumber(config, 'sample_max_value', 1, { min: 0, exclusiveMin: true }),
  };
}

/** diffusers applies thresholding first and only otherwise `clip_sample`. */
export function limitX0(x0: Tensor, limits: X0Limits): Tensor {
  if (limits.thresholding)
    return dynamicThreshold(x0, limits.dynamicThresholdingRatio, limits.sampleMaxValue);
  if (limits.clipSample) return clamp(x0, -limits.clipSampleRange, limits.clipSampleRange);
  return x0;
}

const f32 = Math.fround;

/**
 * For schedulers parameterised by alphas_cumprod (DDIM, LCM, PNDM): the predicted clean sample x0
 * and noise epsilon implied by the model output at a timestep whose cumulative alpha is `alphaProd`.
 * Scalars are float32 as in diffusers.
 */
export function x0AndEpsilon(
  predictionType: PredictionType,
  modelOutput: Tensor,
  sample: Tensor,
  alphaProd: number,
): { x0: Tensor; epsilon: Tensor } {
  const sqrtAlpha = f32(Math.sqrt(alphaProd));
  const sqrtBeta = f32(Math.sqrt(f32(1 - alphaProd)));
  if (predictionType === 'epsilon') {
    return {
      x0: linearCombination([
        [1 / sqrtAlpha, sample],
        [-sqrtBeta / sqrtAlpha, modelOutput],
      ]),
      epsilon: modelOutput,
    };
  }
  if (predictionType === 'sample') {
    return {
      x0: modelOutput,
      epsilon: linearCombination([
        [1 / sqrtBeta, sample],
        [-sqrtAlpha / sqrtBeta, modelOutput],
      ]),
    };
  }
  return {
    x0: linearCombination([
      [sqrtAlpha, sample],
      [-sqrtBeta, modelOutput],
    ]),
    epsilon: linearCombination([
      [sqrtAlpha, modelOutput],
      [sqrtBeta, sample],
    ]),
  };
}

/** DDPM's forward process: `sqrt(a) x0 + sqrt(1 - a) noise`. */
export function noiseWithAlpha(original: Tensor, noise: Tensor, alphaProd: number): Tensor {
  return linearCombination([
    [f32(Math.sqrt(alphaProd)), original],
    [f32(Math.sqrt(f32(1 - alphaProd))), noise],
  ]);
}
