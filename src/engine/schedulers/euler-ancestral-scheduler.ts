import {
  eulerStepFromOutput,
  initNoiseSigmaOf,
  inputScaleAtSigma,
  noiseAtSigma,
  readSigmaSchedulerBase,
  type SigmaSchedulerBase,
} from './euler-discrete-scheduler.ts';
import { type Scheduler, type StepOptions, type StepResult, withLazyX0 } from './scheduler.ts';
import type { SchedulerConfig } from './scheduler-config.ts';
import { assertInferenceSteps, misuse, requireNoise } from './scheduler-misuse.ts';
import { spacedFloatTimesteps } from './sigma-timesteps.ts';
import { interpAtIndex, trainingSigmas } from './sigmas.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';
import { likeShape, linearCombination } from './tensor-math.ts';

const f32 = Math.fround;

/**
 * Port of diffusers' `EulerAncestralDiscreteScheduler` (k-diffusion's `sample_euler_ancestral`):
 * an Euler step down to sigma_down, then fresh noise of sigma_up, so each step needs `options.noise`.
 */
export class EulerAncestralScheduler implements Scheduler {
  readonly className = 'EulerAncestralDiscreteScheduler';
  readonly order = 1;
  readonly stochastic = true;
  readonly numTrainTimesteps: number;
  private readonly base: SigmaSchedulerBase;
  private readonly index = new StepIndex('EulerAncestralDiscreteScheduler');
  private schedule: number[];
  sigmas: number[];

  constructor(config: SchedulerConfig) {
    this.base = readSigmaSchedulerBase(config);
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
    const { numTrainTimesteps, alphasCumprod, spacing, stepsOffset } = this.base;
    assertInferenceSteps(this.className, numInferenceSteps, numTrainTimesteps);
    const timesteps = spacedFloatTimesteps(spacing, numTrainTimesteps, numInferenceSteps, stepsOffset);
    const train = trainingSigmas(alphasCumprod);
    this.sigmas = [...timesteps.map((t) => interpAtIndex(t, train)), 0].map(f32);
    this.schedule = timesteps.map(f32);
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  modelInputScale(timestep: number): number {
    return inputScaleAtSigma(this.sigmas[this.index.resolve(this.schedule, timestep)] as number);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): StepResult {
    const i = this.index.resolve(this.schedule, timestep);
    const sigmaFrom = this.sigmas[i] as number;
    const sigmaTo = this.sigmas[i + 1];
    if (sigmaTo === undefined) throw misuse(this.className, 'stepped past the last timestep');
    const noise = requireNoise(this.className, options.noise);
    const sigmaUp = f32(
      Math.sqrt(
        f32(
          f32(sigmaTo * sigmaTo * f32(sigmaFrom * sigmaFrom - sigmaTo * sigmaTo)) / (sigmaFrom * sigmaFrom),
        ),
      ),
    );
    const sigmaDown = f32(Math.sqrt(f32(sigmaTo * sigmaTo - sigmaUp * sigmaUp)));
    const deterministic = eulerStepFromOutput(
      this.base.predictionType,
      modelOutput,
      sample,
      sigmaFrom,
      sigmaDown,
      // The noise is then added in place: the kernels read each chunk before they write it.
      options.into,
    );
    this.index.advance();
    // The last step (sigma_to 0, so sigma_up 0) adds nothing: diffusers still draws its noise, to
    // move torch's generator on; easel's noise is drawn by counter (seeded-noise.ts), so no later
    // draw depends on this one and a whole latent's worth of Box-Muller is skipped (half a
    // one-step turbo render's noise).
    if (sigmaUp === 0) return withLazyX0(deterministic.prevSample, () => deterministic.predOriginalSample!);
    const prevSample = linearCombination(
      [
        [1, deterministic.prevSample],
        [sigmaUp, likeShape(sample, noise(), 'Euler ancestral noise')],
      ],
      options.into,
    );
    return withLazyX0(prevSample, () => deterministic.predOriginalSample!);
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return noiseAtSigma(
      original,
      noise,
      this.sigmas[addNoiseIndex(this.className, this.index, this.schedule, timestep)],
    );
  }
}
