import type { Tensor } from './tensor.ts';
import { scale } from './tensor-math.ts';

export interface StepOptions {
  /**
   * Standard-normal noise with as many elements as the sample, drawn by the caller's seeded generator.
   * Called only by steps that inject noise (euler_a, lcm, ddim with eta > 0, the second half of each
   * dpm2_a step, the SDE variants of DPM-Solver), at most once per step,
   * so a given seed gives the same images.
   */
  noise?: () => Float32Array;
  /** DDIM's eta: 0 is deterministic DDIM, 1 adds DDPM's full variance. Other schedulers ignore it. */
  eta?: number;
  /**
   * A buffer of the sample's size the caller lends for the previous sample, so that a step allocates
   * nothing (the denoising loop lends each lane's last latents back). Only a scheduler that keeps
   * nothing of a step once it returns (Euler, Euler a, flow-matching Euler) writes into it, and the
   * caller may write over `sample`'s buffer after the step: read `predOriginalSample` before that.
   */
  into?: Float32Array;
}

export interface StepResult {
  prevSample: Tensor;
  /** The model's current estimate of the clean sample (x0), where the scheduler computes one: for previews. */
  predOriginalSample?: Tensor;
}

/**
 * A step's result whose x0 is computed when first read: the denoising loop never reads it, and it
 * costs a pass over the latents and an allocation per step.
 */
export function withLazyX0(prevSample: Tensor, x0: () => Tensor): StepResult {
  let computed: Tensor | undefined;
  return {
    prevSample,
    get predOriginalSample() {
      computed ??= x0();
      return computed;
    },
  };
}

/**
 * A denoising scheduler with diffusers' interface, so diffusers' pipelines and published test values
 * carry over: `setTimesteps(n)`, then for each `t` of `timesteps`: `modelInput = scaleModelInput(x, t)`
 * (below: x times `modelInputScale(t)`), run the model, `x = step(output, t, x).prevSample`. Start
 * from noise times `initNoiseSigma`.
 */
export interface Scheduler {
  /** The diffusers class this ports (e.g. "DDIMScheduler"). */
  readonly className: string;
  /**
   * diffusers' `order`: 2 for the second-order schedulers (Heun, KDPM2), whose `timesteps` list every
   * step after the first twice; img2img skips `order` entries per skipped step.
   */
  readonly order: number;
  readonly numTrainTimesteps: number;
  /** The timesteps to feed the model, in order: integers, or floats for Euler-family schedulers. */
  readonly timesteps: readonly number[];
  /** Standard deviation of the starting noise. */
  readonly initNoiseSigma: number;
  /** True when steps need `options.noise` (ancestral, SDE, LCM); DDIM needs it only with `eta` > 0. */
  readonly stochastic: boolean;
  setTimesteps(numInferenceSteps: number): void;
  /** Index into `timesteps` of the first step (img2img starts part way); see `timestepsForStrength`. */
  setBeginIndex(index: number): void;
  /**
   * diffusers' `scale_model_input` is always the sample times a factor (1/sqrt(sigma^2 + 1) for the
   * sigma schedulers, 1 for the others): the factor alone, so the denoising loop scales the latents
   * as it writes the UNet's input, with no tensor of its own per step.
   */
  modelInputScale(timestep: number): number;
  step(modelOutput: Tensor, timestep: number, sample: Tensor, options?: StepOptions): StepResult;
  /** Noises a clean sample to the level of `timestep` (img2img, inpainting). */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor;
}

/** diffusers' `scheduler.scale_model_input(sample, t)`: the sample itself when the factor is 1. */
export function scaleModelInput(scheduler: Scheduler, sample: Tensor, timestep: number): Tensor {
  const factor = scheduler.modelInputScale(timestep);
  return factor === 1 ? sample : scale(sample, factor);
}
