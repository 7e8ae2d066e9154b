import { readNoiseSchedule } from './noise-schedule.ts';
import { npLinspace, roundHalfEven, trailingTimesteps } from './numpy-ranges.ts';
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
import { readBoolean, readChoice, readNumber, type SchedulerConfig } from './scheduler-config.ts';
import { assertInferenceSteps, assertTrainTimestep, misuse, requireNoise } from './scheduler-misuse.ts';
import type { Tensor } from './tensor.ts';
import { likeShape, linearCombination } from './tensor-math.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;

/** Integer timesteps, highest first, the way DDIM, PNDM and LCM-style schedulers space them. */
export function spacedTrainTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  n: number,
  stepsOffset: number,
): number[] {
  if (spacing === 'linspace')
    return npLinspace(0, numTrainTimesteps - 1, n)
      .map(roundHalfEven)
      .reverse();
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrainTimesteps / n);
    return Array.from({ length: n }, (_, i) => i * ratio + stepsOffset).reverse();
  }
  return trailingTimesteps(numTrainTimesteps, n);
}

/** Port of diffusers' `DDIMScheduler` (Song et al. 2020). */
export class DdimScheduler implements Scheduler {
  readonly className = 'DDIMScheduler';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  readonly numTrainTimesteps: number;
  readonly alphasCumprod: Float64Array;
  readonly predictionType: PredictionType;
  private readonly limits: X0Limits;
  private readonly finalAlphaCumprod: number;
  private readonly stepsOffset: number;
  private readonly spacing: TimestepSpacing;
  private numInferenceSteps: number | undefined;
  private schedule: number[];

  constructor(config: SchedulerConfig) {
    const noise = readNoiseSchedule(config, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' });
    this.numTrainTimesteps = noise.numTrainTimesteps;
    this.alphasCumprod = noise.alphasCumprod;
    this.predictionType = readPredictionType(config);
    this.limits = readX0Limits(config, true);
    // The last step has no previous alpha: 1 (fully denoised) or, as Stable Diffusion does, alpha at t=0.
    this.finalAlphaCumprod = readBoolean(config, 'set_alpha_to_one', true)
      ? 1
      : (noise.alphasCumprod[0] as number);
    this.stepsOffset = readNumber(config, 'steps_offset', 0, { integer: true, min: 0 });
    this.spacing = readChoice(config, 'timestep_spacing', TIMESTEP_SPACINGS, 'leading');
    this.schedule = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    assertInferenceSteps(this.className, numInferenceSteps, this.numTrainTimesteps);
    this.numInferenceSteps = numInferenceSteps;
    this.schedule = spacedTrainTimesteps(
      this.spacing,
      this.numTrainTimesteps,
      numInferenceSteps,
      this.stepsOffset,
    );
    const outOfRange = this.schedule.find((t) => t >= this.numTrainTimesteps);
    if (outOfRange !== undefined) {
      throw misuse(
        this.className,
        `steps_offset ${this.stepsOffset} pushes timestep ${outOfRange} past num_train_timesteps`,
      );
    }
  }

  /** DDIM is stateless between steps: every step is located by its timestep alone. */
  setBeginIndex(_index: number): void {}

  modelInputScale(_timestep: number): number {
    return 1;
  }

  private alphaPrev(prevTimestep: number): number {
    return prevTimestep >= 0 ? (this.alphasCumprod[prevTimestep] as number) : this.finalAlphaCumprod;
  }

  /** sigma_t^2 of the DDIM paper's formula (16) at eta = 1 (diffusers' `_get_variance`). */
  variance(timestep: number, prevTimestep: number): number {
    const alphaProd = this.alphasCumprod[timestep] as number;
    const alphaPrev = this.alphaPrev(prevTimestep);
    const betaProd = f32(1 - alphaProd);
    const betaPrev = f32(1 - alphaPrev);
    return f32(f32(betaPrev / betaProd) * f32(1 - f32(alphaProd / alphaPrev)));
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): StepResult {
    const n = this.numInferenceSteps;
    if (n === undefined) throw misuse(this.className, 'call setTimesteps before step');
    assertTrainTimestep(this.className, timestep, this.numTrainTimesteps);
    const eta = options.eta ?? 0;
    const prevTimestep = timestep - Math.floor(this.numTrainTimesteps / n);
    const alphaProd = this.alphasCumprod[timestep] as number;
    const alphaPrev = this.alphaPrev(prevTimestep);

    const predicted = x0AndEpsilon(this.predictionType, modelOutput, sample, alphaProd);
    const x0 = limitX0(predicted.x0, this.limits);
    // As diffusers (use_clipped_model_output=False): the direction uses the unclipped epsilon.
    const epsilon = predicted.epsilon;

    const stdDev = f32(eta * Math.sqrt(this.variance(timestep, prevTimestep)));
    const direction = f32(Math.sqrt(f32(f32(1 - alphaPrev) - stdDev * stdDev)));
    const terms: Array<readonly [number, Tensor]> = [
      [f32(Math.sqrt(alphaPrev)), x0],
      [direction, epsilon],
    ];
    if (eta > 0)
      terms.push([stdDev, likeShape(sample, requireNoise(this.className, options.noise)(), 'DDIM noise')]);
    return { prevSample: linearCombination(terms), predOriginalSample: x0 };
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    assertTrainTimestep(this.className, timestep, this.numTrainTimesteps);
    return noiseWithAlpha(original, noise, this.alphasCumprod[timestep] as number);
  }
}
