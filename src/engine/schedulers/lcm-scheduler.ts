import { readNoiseSchedule } from './noise-schedule.ts';
import { npLinspace } from './numpy-ranges.ts';
import {
  limitX0,
  noiseWithAlpha,
  type PredictionType,
  readPredictionType,
  readX0Limits,
  type X0Limits,
  x0AndEpsilon,
} from './prediction.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import { configError, readBoolean, readNumber, type SchedulerConfig } from './scheduler-config.ts';
import { assertInferenceSteps, assertTrainTimestep, misuse, requireNoise } from './scheduler-misuse.ts';
import { StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';
import { likeShape, linearCombination } from './tensor-math.ts';

const f32 = Math.fround;
const SIGMA_DATA = 0.5;

/**
 * Port of diffusers' `LCMScheduler` (Luo et al. 2023, latent consistency models): each step maps the
 * sample straight to a denoised estimate through the consistency boundary condition, then (except on
 * the last step) re-noises it to the next timestep with fresh noise, so steps need `options.noise`.
 */
export class LcmScheduler implements Scheduler {
  readonly className = 'LCMScheduler';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly stochastic = true;
  readonly numTrainTimesteps: number;
  readonly alphasCumprod: Float64Array;
  private readonly predictionType: PredictionType;
  private readonly limits: X0Limits;
  private readonly finalAlphaCumprod: number;
  private readonly originalInferenceSteps: number;
  private readonly timestepScaling: number;
  private readonly index = new StepIndex('LCMScheduler');
  private schedule: number[];

  constructor(config: SchedulerConfig) {
    const noise = readNoiseSchedule(config, {
      betaStart: 0.00085,
      betaEnd: 0.012,
      betaSchedule: 'scaled_linear',
    });
    this.numTrainTimesteps = noise.numTrainTimesteps;
    this.alphasCumprod = noise.alphasCumprod;
    this.predictionType = readPredictionType(config);
    this.limits = readX0Limits(config, false);
    this.finalAlphaCumprod = readBoolean(config, 'set_alpha_to_one', true)
      ? 1
      : (noise.alphasCumprod[0] as number);
    this.originalInferenceSteps = readNumber(config, 'original_inference_steps', 50, {
      integer: true,
      min: 1,
    });
    if (this.originalInferenceSteps > this.numTrainTimesteps) {
      throw configError(
        'original_inference_steps',
        `must be <= num_train_timesteps (${this.numTrainTimesteps})`,
      );
    }
    this.timestepScaling = readNumber(config, 'timestep_scaling', 10, { min: 0, exclusiveMin: true });
    this.schedule = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /**
   * `n` timesteps taken evenly (by index) from the distillation schedule of `original_inference_steps`
   * timesteps; `strength` < 1 (img2img) keeps only its lowest `original * strength` timesteps.
   */
  setTimesteps(numInferenceSteps: number, strength = 1): void {
    assertInferenceSteps(this.className, numInferenceSteps, this.numTrainTimesteps);
    const original = this.originalInferenceSteps;
    const k = Math.floor(this.numTrainTimesteps / original);
    const available = Math.floor(original * strength);
    if (numInferenceSteps > original) {
      throw misuse(
        this.className,
        `${numInferenceSteps} steps exceed original_inference_steps (${original})`,
      );
    }
    if (available < numInferenceSteps) {
      throw misuse(
        this.className,
        `strength ${strength} leaves ${available} of the ${original} distillation timesteps, fewer than ${numInferenceSteps} steps`,
      );
    }
    const origin = Array.from({ length: available }, (_, i) => (i + 1) * k - 1).reverse();
    this.schedule = npLinspace(0, origin.length, numInferenceSteps, false).map(
      (x) => origin[Math.floor(x)] as number,
    );
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  modelInputScale(_timestep: number): number {
    return 1;
  }

  /** c_skip and c_out of the consistency model's boundary condition at a timestep. */
  boundaryScalings(timestep: number): { cSkip: number; cOut: number } {
    const scaled = timestep * this.timestepScaling;
    const denominator = scaled * scaled + SIGMA_DATA * SIGMA_DATA;
    return { cSkip: (SIGMA_DATA * SIGMA_DATA) / denominator, cOut: scaled / Math.sqrt(denominator) };
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): StepResult {
    assertTrainTimestep(this.className, timestep, this.numTrainTimesteps);
    const i = this.index.resolve(this.schedule, timestep);
    const isLast = i === this.schedule.length - 1;
    const prevTimestep = isLast ? timestep : (this.schedule[i + 1] as number);
    const alphaProd = this.alphasCumprod[timestep] as number;
    const alphaPrev =
      prevTimestep >= 0 ? (this.alphasCumprod[prevTimestep] as number) : this.finalAlphaCumprod;
    const { cSkip, cOut } = this.boundaryScalings(timestep);
    const x0 = limitX0(x0AndEpsilon(this.predictionType, modelOutput, sample, alphaProd).x0, this.limits);
    const denoised = linearCombination([
      [cOut, x0],
      [cSkip, sample],
    ]);
    let prevSample = denoised;
    if (!isLast) {
      const noise = likeShape(sample, requireNoise(this.className, options.noise)(), 'LCM noise');
      prevSample = linearCombination([
        [f32(Math.sqrt(alphaPrev)), denoised],
        [f32(Math.sqrt(f32(1 - alphaPrev))), noise],
      ]);
    }
    this.index.advance();
    return { prevSample, predOriginalSample: denoised };
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    assertTrainTimestep(this.className, timestep, this.numTrainTimesteps);
    return noiseWithAlpha(original, noise, this.alphasCumprod[timestep] as number);
  }
}
