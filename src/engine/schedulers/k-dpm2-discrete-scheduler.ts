import { discreteSigmaSchedule, repeatAfterFirst } from './discrete-sigma-schedule.ts';
import {
  initNoiseSigmaOf,
  inputScaleAtSigma,
  noiseAtSigma,
  readSigmaSchedulerBase,
  type SigmaSchedulerBase,
  x0AtSigma,
} from './euler-discrete-scheduler.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import { configError, type SchedulerConfig } from './scheduler-config.ts';
import { assertInferenceSteps, misuse } from './scheduler-misuse.ts';
import { readSigmaSpacing, type SigmaSpacing } from './sigma-spacing.ts';
import { sigmaToTimestep, trainingSigmas } from './sigmas.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';

const f32 = Math.fround;

/** The noise-schedule defaults of diffusers' KDPM2 schedulers (Stable Diffusion's betas, linear). */
export const KDPM2_NOISE_DEFAULTS = {
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'linear',
  zeroSnr: false,
} as const;

/** Reads what both KDPM2 ports share; diffusers' KDPM2 steps raise for prediction_type "sample". */
export function readKdpm2Base(config: SchedulerConfig): { base: SigmaSchedulerBase; spacing: SigmaSpacing } {
  const base = readSigmaSchedulerBase(config, KDPM2_NOISE_DEFAULTS);
  if (base.predictionType === 'sample') {
    throw configError('prediction_type', '"sample" is not implemented by diffusers’ KDPM2 schedulers');
  }
  return { base, spacing: readSigmaSpacing(config, false) };
}

/** exp(lerp(log a, log b, 1/2)) in float32: the geometric mean, 0 when either is 0 (torch's lerp at weight 0.5). */
export function logMidpoint(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return f32(Math.exp(0.5 * (f32(Math.log(a)) + f32(Math.log(b)))));
}

/**
 * Port of diffusers' `KDPM2DiscreteScheduler` (k-diffusion's `sample_dpm_2`, Karras et al. 2022): each
 * step evaluates the model at sigma and at the log-midpoint towards the next sigma, then takes the
 * full step with the midpoint's derivative. `timesteps` interleaves the midpoints' timesteps as
 * diffusers does (two model evaluations per step, `order` 2).
 */
export class KDpm2DiscreteScheduler implements Scheduler {
  readonly className = 'KDPM2DiscreteScheduler';
  readonly order = 2;
  readonly stochastic = false;
  readonly numTrainTimesteps: number;
  private readonly base: SigmaSchedulerBase;
  private readonly spacing: SigmaSpacing;
  private readonly index = new StepIndex('KDPM2DiscreteScheduler');
  private schedule: number[];
  /** The sample at the start of the step, while its second half is pending (diffusers' `self.sample`). */
  private pending: Tensor | undefined;
  sigmas: number[];
  /** The log-midpoints between consecutive sigmas, laid out like `sigmas`. */
  sigmasInterpol: number[];

  constructor(config: SchedulerConfig) {
    ({ base: this.base, spacing: this.spacing } = readKdpm2Base(config));
    this.numTrainTimesteps = this.base.numTrainTimesteps;
    this.sigmas = [...Array.from(trainingSigmas(this.base.alphasCumprod)).reverse(), 0];
    this.sigmasInterpol = this.sigmas;
    this.schedule = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  get initNoiseSigma(): number {
    return initNoiseSigmaOf(this.sigmas, this.base.spacing);
  }

  setTimesteps(numInferenceSteps: number): void {
    assertInferenceSteps(this.className, numInferenceSteps, this.numTrainTimesteps);
    const schedule = discreteSigmaSchedule(this.base, this.spacing, numInferenceSteps, true);
    const sigmas = [...schedule.sigmas, 0].map(f32);
    // Entry k is the midpoint between sigma k-1 and sigma k; entry 0 (NaN in diffusers) is never read.
    const interpol = sigmas.map((s, k) => (k === 0 ? s : logMidpoint(s, sigmas[k - 1] as number)));
    const interpolTimesteps = interpol.map((s) => f32(sigmaToTimestep(s, schedule.logSigmas)));
    const timesteps = schedule.timesteps.map(f32);
    this.sigmas = [...repeatAfterFirst(sigmas), 0];
    this.sigmasInterpol = [...repeatAfterFirst(interpol), interpol[interpol.length - 1] as number];
    const interleaved = [timesteps[0] as number];
    for (let k = 1; k < timesteps.length; k++)
      interleaved.push(interpolTimesteps[k] as number, timesteps[k] as number);
    this.schedule = interleaved;
    this.pending = undefined;
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  modelInputScale(timestep: number): number {
    const i = this.index.resolve(this.schedule, timestep);
    const sigma = this.pending === undefined ? this.sigmas[i] : this.sigmasInterpol[i];
    return inputScaleAtSigma(sigma as number);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: StepOptions = {}): StepResult {
    const i = this.index.resolve(this.schedule, timestep);
    const first = this.pending === undefined;
    const sigma = this.sigmas[first ? i : i - 1];
    const sigmaInterpol = this.sigmasInterpol[first ? i + 1 : i];
    const sigmaNext = this.sigmas[first ? i + 1 : i];
    if (sigma === undefined || sigmaInterpol === undefined || sigmaNext === undefined) {
      throw misuse(this.className, 'stepped past the last timestep');
    }
    const sigmaInput = first ? sigma : sigmaInterpol;
    const x0 = x0AtSigma(this.base.predictionType, modelOutput, sample, sigmaInput);
    // First half: Euler to the midpoint. Second half: the whole step from the saved sample, with the
    // derivative measured at the midpoint.
    const from = first ? sample : (this.pending as Tensor);
    const dt = f32((first ? sigmaInterpol : sigmaNext) - sigma);
    const out = new Float32Array(sample.data.length);
    for (let k = 0; k < out.length; k++) {
      const derivative = f32(((sample.data[k] as number) - (x0.data[k] as number)) / sigmaInput);
      out[k] = (from.data[k] as number) + derivative * dt;
    }
    this.pending = first ? sample : undefined;
    this.index.advance();
    return { prevSample: { data: out, dims: [...sample.dims] }, predOriginalSample: x0 };
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return noiseAtSigma(
      original,
      noise,
      this.sigmas[addNoiseIndex(this.className, this.index, this.schedule, timestep)],
    );
  }
}
