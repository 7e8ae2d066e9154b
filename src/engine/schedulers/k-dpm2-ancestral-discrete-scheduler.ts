import { discreteSigmaSchedule, repeatAfterFirst } from './discrete-sigma-schedule.ts';
import {
  initNoiseSigmaOf,
  inputScaleAtSigma,
  noiseAtSigma,
  type SigmaSchedulerBase,
  x0AtSigma,
} from './euler-discrete-scheduler.ts';
import { logMidpoint, readKdpm2Base } from './k-dpm2-discrete-scheduler.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import type { SchedulerConfig } from './scheduler-config.ts';
import { assertInferenceSteps, misuse, requireNoise } from './scheduler-misuse.ts';
import type { SigmaSpacing } from './sigma-spacing.ts';
import { sigmaToTimestep, trainingSigmas } from './sigmas.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';
import { likeShape } from './tensor-math.ts';

const f32 = Math.fround;

/**
 * Port of diffusers' `KDPM2AncestralDiscreteScheduler` (k-diffusion's `sample_dpm_2_ancestral`): a
 * DPM2 step down to sigma_down through the log-midpoint, then fresh noise of sigma_up, which each
 * second half draws once from `options.noise`. Doubled `timesteps` and `order` 2 as in diffusers.
 */
export class KDpm2AncestralDiscreteScheduler implements Scheduler {
  readonly className = 'KDPM2AncestralDiscreteScheduler';
  readonly order = 2;
  readonly stochastic = true;
  readonly numTrainTimesteps: number;
  private readonly base: SigmaSchedulerBase;
  private readonly spacing: SigmaSpacing;
  private readonly index = new StepIndex('KDPM2AncestralDiscreteScheduler');
  private schedule: number[];
  private pending: Tensor | undefined;
  sigmas: number[];
  private sigmasInterpol: number[] = [];
  private sigmasUp: number[] = [];
  private sigmasDown: number[] = [];

  constructor(config: SchedulerConfig) {
    ({ base: this.base, spacing: this.spacing } = readKdpm2Base(config));
    this.numTrainTimesteps = this.base.numTrainTimesteps;
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
    const schedule = discreteSigmaSchedule(this.base, this.spacing, numInferenceSteps, true);
    const sigmas = [...schedule.sigmas, 0].map(f32);
    const last = sigmas.length - 1;
    // sigma_up / sigma_down split each step's drop into fresh noise and a deterministic part (float32, as torch).
    const up = sigmas.map((s, k) => {
      const next = k === last ? 0 : (sigmas[k + 1] as number);
      return f32(Math.sqrt(f32(f32(f32(next * next) * f32(s * s - next * next)) / f32(s * s))));
    });
    const down = sigmas.map((_, k) => {
      const next = k === last ? 0 : (sigmas[k + 1] as number);
      const u = up[k] as number;
      return k === last ? 0 : f32(Math.sqrt(f32(next * next - u * u)));
    });
    const interpol = sigmas.map((s, k) => (k >= last - 1 ? 0 : logMidpoint(s, down[k] as number)));
    const interpolTimesteps = interpol.map((s) => f32(sigmaToTimestep(s, schedule.logSigmas)));
    const timesteps = schedule.timesteps.map(f32);
    const doubled = (xs: number[]) => [...repeatAfterFirst(xs), xs[xs.length - 1] as number];
    this.sigmas = doubled(sigmas);
    this.sigmasInterpol = doubled(interpol);
    this.sigmasUp = doubled(up);
    this.sigmasDown = doubled(down);
    const interleaved = [timesteps[0] as number];
    for (let k = 1; k < timesteps.length; k++)
      interleaved.push(interpolTimesteps[k - 1] as number, timesteps[k] as number);
    this.schedule = interleaved;
    this.pending = undefined;
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  modelInputScale(timestep: number): number {
    const i = this.index.resolve(this.schedule, timestep);
    const sigma = this.pending === undefined ? this.sigmas[i] : this.sigmasInterpol[i - 1];
    return inputScaleAtSigma(sigma as number);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): StepResult {
    const i = this.index.resolve(this.schedule, timestep);
    const first = this.pending === undefined;
    const at = first ? i : i - 1;
    const sigma = this.sigmas[at];
    const sigmaInterpol = this.sigmasInterpol[at];
    const sigmaUp = this.sigmasUp[at];
    const sigmaDown = this.sigmasDown[i - 1];
    if (sigma === undefined || sigmaInterpol === undefined || sigmaUp === undefined) {
      throw misuse(this.className, 'stepped past the last timestep');
    }
    const sigmaInput = first ? sigma : sigmaInterpol;
    const x0 = x0AtSigma(this.base.predictionType, modelOutput, sample, sigmaInput);
    const n = sample.data.length;
    const out = new Float32Array(n);
    if (first) {
      const dt = f32(sigmaInterpol - sigma);
      for (let k = 0; k < n; k++) {
        const x = sample.data[k] as number;
        out[k] = x + f32((x - (x0.data[k] as number)) / sigma) * dt;
      }
      this.pending = sample;
    } else {
      if (sigmaDown === undefined) throw misuse(this.className, 'stepped past the last timestep');
      const noise = likeShape(sample, requireNoise(this.className, options.noise)(), 'KDPM2 ancestral noise');
      const from = (this.pending as Tensor).data;
      const dt = f32(sigmaDown - sigma);
      for (let k = 0; k < n; k++) {
        const derivative = f32(((sample.data[k] as number) - (x0.data[k] as number)) / sigmaInterpol);
        out[k] = f32((from[k] as number) + derivative * dt) + (noise.data[k] as number) * sigmaUp;
      }
      this.pending = undefined;
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
