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
import { readBoolean, readNumber, type SchedulerConfig } from './scheduler-config.ts';
import { assertInferenceSteps, misuse } from './scheduler-misuse.ts';
import { readSigmaSpacing, type SigmaSpacing } from './sigma-spacing.ts';
import { trainingSigmas } from './sigmas.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';
import { clamp } from './tensor-math.ts';

const f32 = Math.fround;

/** What the first half of a Heun step leaves for the second. */
interface HalfStep {
  derivative: Float32Array;
  dt: number;
  sample: Tensor;
}

/**
 * Port of diffusers' `HeunDiscreteScheduler` (Karras et al. 2022, Algorithm 1 without churn): each
 * step is an Euler step to the next sigma, then a correction averaging the derivatives at both ends.
 * As in diffusers, `timesteps` lists every timestep after the first twice (two model evaluations per
 * step, `order` 2), and the scheduler remembers which half it is in.
 */
export class HeunDiscreteScheduler implements Scheduler {
  readonly className = 'HeunDiscreteScheduler';
  readonly order = 2;
  readonly stochastic = false;
  readonly numTrainTimesteps: number;
  private readonly base: SigmaSchedulerBase;
  private readonly spacing: SigmaSpacing;
  private readonly clipSample: boolean;
  private readonly clipSampleRange: number;
  private readonly index = new StepIndex('HeunDiscreteScheduler');
  private schedule: number[];
  private half: HalfStep | undefined;
  /** diffusers' doubled list: [s0, s1, s1, ..., s(n-1), s(n-1), 0]. */
  sigmas: number[];

  constructor(config: SchedulerConfig) {
    this.base = readSigmaSchedulerBase(config, {
      betaStart: 0.00085,
      betaEnd: 0.012,
      betaSchedule: 'linear',
      exp: true,
      zeroSnr: false,
    });
    this.numTrainTimesteps = this.base.numTrainTimesteps;
    this.spacing = readSigmaSpacing(config, false);
    this.clipSample = readBoolean(config, 'clip_sample', false);
    this.clipSampleRange = readNumber(config, 'clip_sample_range', 1, { min: 0, exclusiveMin: true });
    this.sigmas = [...Array.from(trainingSigmas(this.base.alphasCumprod)).reverse(), 0];
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
    const { timesteps, sigmas } = discreteSigmaSchedule(this.base, this.spacing, numInferenceSteps);
    this.sigmas = [...repeatAfterFirst(sigmas), 0].map(f32);
    this.schedule = repeatAfterFirst(timesteps.map(f32));
    this.half = undefined;
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  modelInputScale(timestep: number): number {
    return inputScaleAtSigma(this.sigmas[this.index.resolve(this.schedule, timestep)] as number);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: StepOptions = {}): StepResult {
    const i = this.index.resolve(this.schedule, timestep);
    const half = this.half;
    const sigma = this.sigmas[half === undefined ? i : i - 1];
    const sigmaNext = this.sigmas[half === undefined ? i + 1 : i];
    if (sigma === undefined || sigmaNext === undefined)
      throw misuse(this.className, 'stepped past the last timestep');
    let x0 = x0AtSigma(this.base.predictionType, modelOutput, sample, half === undefined ? sigma : sigmaNext);
    if (this.clipSample) x0 = clamp(x0, -this.clipSampleRange, this.clipSampleRange);
    const n = sample.data.length;
    const out = new Float32Array(n);
    if (half === undefined) {
      // Euler predictor to sigmaNext; its derivative is kept for the corrector.
      const derivative = new Float32Array(n);
      const dt = f32(sigmaNext - sigma);
      const x = sample.data;
      const x0Data = x0.data;
      for (let k = 0; k < n; k++) {
        derivative[k] = ((x[k] as number) - (x0Data[k] as number)) / sigma;
        out[k] = (x[k] as number) + (derivative[k] as number) * dt;
      }
      this.half = { derivative, dt, sample };
    } else {
      // Corrector: the mean of both derivatives, applied from the sample the step started at.
      const start = half.sample.data;
      const first = half.derivative;
      const x = sample.data;
      const x0Data = x0.data;
      const halfDt = 0.5 * half.dt;
      for (let k = 0; k < n; k++) {
        const d = ((x[k] as number) - (x0Data[k] as number)) / sigmaNext;
        out[k] = (start[k] as number) + ((first[k] as number) + d) * halfDt;
      }
      this.half = undefined;
    }
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
