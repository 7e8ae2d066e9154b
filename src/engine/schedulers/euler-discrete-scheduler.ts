import { eulerFromOutputInto, eulerStepInto } from '../kernels/kernels.ts';
import { type NoiseScheduleDefaults, readNoiseSchedule } from './noise-schedule.ts';
import { type PredictionType, readPredictionType } from './prediction.ts';
import { type Scheduler, type StepOptions, type StepResult, withLazyX0 } from './scheduler.ts';
import {
  readBoolean,
  readChoice,
  readNumber,
  readOptionalNumber,
  rejectEnabled,
  type SchedulerConfig,
} from './scheduler-config.ts';
import { assertInferenceSteps, misuse } from './scheduler-misuse.ts';
import { spacedFloatTimesteps } from './sigma-timesteps.ts';
import { interpAtIndex, karrasSigmas, logSigmasOf, sigmaToTimestep, trainingSigmas } from './sigmas.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import { assertSameShape, type Tensor } from './tensor.ts';
import { linearCombination } from './tensor-math.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;

/** Settings shared by the Euler and Euler-ancestral ports. */
export interface SigmaSchedulerBase {
  numTrainTimesteps: number;
  alphasCumprod: Float64Array;
  predictionType: PredictionType;
  spacing: TimestepSpacing;
  stepsOffset: number;
}

/**
 * The noise schedule, prediction type and spacing of a k-diffusion-style scheduler. `noiseDefaults`
 * are the diffusers class's own defaults (Heun and KDPM2 default to Stable Diffusion's betas).
 */
export function readSigmaSchedulerBase(
  config: SchedulerConfig,
  noiseDefaults: NoiseScheduleDefaults = { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' },
): SigmaSchedulerBase {
  const noise = readNoiseSchedule(config, noiseDefaults);
  let { alphasCumprod } = noise;
  // A zero terminal SNR would make the first sigma infinite; diffusers uses 2^-24 instead (on a
  // copy: the schedule's arrays are shared).
  if (noiseDefaults.zeroSnr !== false && readBoolean(config, 'rescale_betas_zero_snr', false)) {
    alphasCumprod = alphasCumprod.slice();
    alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
  }
  return {
    numTrainTimesteps: noise.numTrainTimesteps,
    alphasCumprod,
    predictionType: readPredictionType(config),
    spacing: readChoice(config, 'timestep_spacing', TIMESTEP_SPACINGS, 'linspace'),
    stepsOffset: readNumber(config, 'steps_offset', 0, { integer: true, min: 0 }),
  };
}

/** diffusers' `init_noise_sigma` for sigma schedulers. */
export function initNoiseSigmaOf(sigmas: readonly number[], spacing: TimestepSpacing): number {
  const max = Math.max(...sigmas);
  return spacing === 'linspace' || spacing === 'trailing' ? max : f32(Math.sqrt(f32(max * max + 1)));
}

/** The model input's factor at noise level sigma: x / sqrt(sigma^2 + 1) is x times this. */
export function inputScaleAtSigma(sigma: number): number {
  return 1 / f32(Math.sqrt(f32(sigma * sigma + 1)));
}

/** x0 from a model output at noise level sigma (k-diffusion parameterisation). */
export function x0AtSigma(
  predictionType: PredictionType,
  modelOutput: Tensor,
  sample: Tensor,
  sigma: number,
): Tensor {
  if (predictionType === 'sample') return modelOutput;
  if (predictionType === 'epsilon') {
    return linearCombination([
      [1, sample],
      [-sigma, modelOutput],
    ]);
  }
  const s2 = f32(sigma * sigma + 1);
  return linearCombination([
    [f32(-sigma / f32(Math.sqrt(s2))), modelOutput],
    [1 / s2, sample],
  ]);
}

/** Port of diffusers' `EulerDiscreteScheduler` (Karras et al. 2022, Algorithm 2, without churn). */
export class EulerDiscreteScheduler implements Scheduler {
  readonly className = 'EulerDiscreteScheduler';
  readonly order = 1;
  readonly stochastic = false;
  readonly numTrainTimesteps: number;
  private readonly base: SigmaSchedulerBase;
  private readonly useKarrasSigmas: boolean;
  private readonly sigmaMin: number | undefined;
  private readonly sigmaMax: number | undefined;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  private readonly timestepType: 'discrete' | 'continuous';
  private readonly index = new StepIndex('EulerDiscreteScheduler');
  private schedule: number[];
  /** One more than `timesteps`: the noise level after the last step. */
  sigmas: number[];

  constructor(config: SchedulerConfig) {
    this.base = readSigmaSchedulerBase(config);
    this.numTrainTimesteps = this.base.numTrainTimesteps;
    this.useKarrasSigmas = readBoolean(config, 'use_karras_sigmas', false);
    this.sigmaMin = readOptionalNumber(config, 'sigma_min');
    this.sigmaMax = readOptionalNumber(config, 'sigma_max');
    // log_linear gives diffusers one sigma more than timesteps; not ported.
    readChoice(config, 'interpolation_type', ['linear'], 'linear');
    this.finalSigmasType = readChoice(config, 'final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    this.timestepType = readChoice(config, 'timestep_type', ['discrete', 'continuous'], 'discrete');
    rejectEnabled(config, 'use_exponential_sigmas', 'only Karras sigmas are ported');
    rejectEnabled(config, 'use_beta_sigmas', 'only Karras sigmas are ported');
    const sigmas = Array.from(trainingSigmas(this.base.alphasCumprod)).reverse();
    this.sigmas = [...sigmas, 0];
    this.schedule = npRangeDescending(this.numTrainTimesteps);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  get initNoiseSigma(): number {
    return initNoiseSigmaOf(this.sigmas, this.base.spacing);
  }

  setTimesteps(numInferenceSteps: number): void {
    const { numTrainTimesteps, alphasCumprod, spacing, stepsOffset, predictionType } = this.base;
    assertInferenceSteps(this.className, numInferenceSteps, numTrainTimesteps);
    let timesteps = spacedFloatTimesteps(spacing, numTrainTimesteps, numInferenceSteps, stepsOffset);
    const train = trainingSigmas(alphasCumprod);
    const logSigmas = logSigmasOf(train);
    let sigmas = timesteps.map((t) => interpAtIndex(t, train));
    if (this.useKarrasSigmas) {
      sigmas = karrasSigmas(
        this.sigmaMin ?? (sigmas[sigmas.length - 1] as number),
        this.sigmaMax ?? (sigmas[0] as number),
        numInferenceSteps,
      );
      timesteps = sigmas.map((s) => f32(sigmaToTimestep(s, logSigmas)));
    }
    const a0 = alphasCumprod[0] as number;
    const sigmaLast = this.finalSigmasType === 'sigma_min' ? Math.sqrt((1 - a0) / a0) : 0;
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.schedule =
      this.timestepType === 'continuous' && predictionType === 'v_prediction'
        ? this.sigmas.slice(0, -1).map((s) => f32(0.25 * Math.log(s)))
        : timesteps.map(f32);
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  private currentSigma(timestep: number): number {
    return this.sigmas[this.index.resolve(this.schedule, timestep)] as number;
  }

  modelInputScale(timestep: number): number {
    return inputScaleAtSigma(this.currentSigma(timestep));
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): StepResult {
    const i = this.index.resolve(this.schedule, timestep);
    const sigma = this.sigmas[i] as number;
    const next = this.sigmas[i + 1];
    if (next === undefined) throw misuse(this.className, 'stepped past the last timestep');
    const result = eulerStepFromOutput(
      this.base.predictionType,
      modelOutput,
      sample,
      sigma,
      next,
      options.into,
    );
    this.index.advance();
    return result;
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return noiseAtSigma(
      original,
      noise,
      this.sigmas[addNoiseIndex(this.className, this.index, this.schedule, timestep)],
    );
  }
}

/** The forward process in sigma form: x0 + sigma * noise. */
export function noiseAtSigma(original: Tensor, noise: Tensor, sigma: number | undefined): Tensor {
  if (sigma === undefined) throw new RangeError('no sigma for that timestep');
  return linearCombination([
    [1, original],
    [sigma, noise],
  ]);
}

/**
 * One Euler step of the probability-flow ODE from a model output: x0 as `x0AtSigma` gives it, then
 * d = (x - x0) / sigma and x_next = x + d * (sigmaNext - sigma). One pass over the latents (the
 * rounding of each value is `x0AtSigma`'s then diffusers' step's): this runs every denoising step of
 * the two most used samplers. x0 itself is computed only if it is read (previews).
 */
export function eulerStepFromOutput(
  predictionType: PredictionType,
  modelOutput: Tensor,
  sample: Tensor,
  sigma: number,
  sigmaNext: number,
  into?: Float32Array,
): StepResult {
  assertSameShape(sample, modelOutput, 'Euler step');
  if (predictionType === 'sample') {
    return {
      prevSample: eulerStep(sample, modelOutput, sigma, sigmaNext, into),
      predOriginalSample: modelOutput,
    };
  }
  // x0 = sampleCoef * x + outputCoef * output, rounded once (x0AtSigma's linearCombination).
  const s2 = f32(sigma * sigma + 1);
  const [sampleCoef, outputCoef] =
    predictionType === 'epsilon' ? [1, -sigma] : [1 / s2, f32(-sigma / f32(Math.sqrt(s2)))];
  const next = into ?? new Float32Array(sample.data.length);
  eulerFromOutputInto(next, sample.data, modelOutput.data, {
    a: sampleCoef,
    b: outputCoef,
    sigma,
    dt: f32(sigmaNext - sigma),
  });
  return withLazyX0({ data: next, dims: [...sample.dims] }, () =>
    linearCombination([
      [sampleCoef, sample],
      [outputCoef, modelOutput],
    ]),
  );
}

/** One Euler step of the probability-flow ODE: d = (x - x0) / sigma, x_next = x + d * (sigmaNext - sigma). */
export function eulerStep(
  sample: Tensor,
  x0: Tensor,
  sigma: number,
  sigmaNext: number,
  into?: Float32Array,
): Tensor {
  const dt = f32(sigmaNext - sigma);
  const out = into ?? new Float32Array(sample.data.length);
  eulerStepInto(out, sample.data, x0.data, sigma, dt);
  return { data: out, dims: [...sample.dims] };
}

function npRangeDescending(n: number): number[] {
  return Array.from({ length: n }, (_, i) => n - 1 - i);
}
