import { readNoiseSchedule } from './noise-schedule.ts';
import { npLinspace, roundHalfEven, trailingTimesteps } from './numpy-ranges.ts';
import { noiseWithAlpha } from './prediction.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import {
  configError,
  readBoolean,
  readChoice,
  readNumber,
  type SchedulerConfig,
} from './scheduler-config.ts';
import { assertInferenceSteps, assertTrainTimestep, misuse } from './scheduler-misuse.ts';
import type { Tensor } from './tensor.ts';
import { linearCombination } from './tensor-math.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;
/** Runge-Kutta warm-up uses four model evaluations per step. */
const PNDM_ORDER = 4;

/**
 * Port of diffusers' `PNDMScheduler` (Liu et al. 2022, pseudo numerical methods): a pseudo
 * Runge-Kutta warm-up (unless `skip_prk_steps`, as Stable Diffusion configures it) followed by
 * pseudo linear multi-step (PLMS) steps over the last four model outputs.
 */
export class PndmScheduler implements Scheduler {
  readonly className = 'PNDMScheduler';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  readonly numTrainTimesteps: number;
  readonly alphasCumprod: Float64Array;
  private readonly finalAlphaCumprod: number;
  private readonly skipPrkSteps: boolean;
  private readonly predictionType: 'epsilon' | 'v_prediction';
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private numInferenceSteps: number | undefined;
  private prkTimesteps: number[] = [];
  private schedule: number[];
  // Running state, as diffusers keeps it.
  private ets: Tensor[] = [];
  private counter = 0;
  private curModelOutput: Tensor | undefined;
  private curSample: Tensor | undefined;

  constructor(config: SchedulerConfig) {
    const noise = readNoiseSchedule(config, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' });
    this.numTrainTimesteps = noise.numTrainTimesteps;
    this.alphasCumprod = noise.alphasCumprod;
    this.finalAlphaCumprod = readBoolean(config, 'set_alpha_to_one', false)
      ? 1
      : (noise.alphasCumprod[0] as number);
    this.skipPrkSteps = readBoolean(config, 'skip_prk_steps', false);
    const prediction = readChoice(
      config,
      'prediction_type',
      ['epsilon', 'v_prediction', 'sample'],
      'epsilon',
    );
    if (prediction === 'sample')
      throw configError('prediction_type', '"sample" is not supported by PNDM (diffusers neither)');
    this.predictionType = prediction;
    this.spacing = readChoice(config, 'timestep_spacing', TIMESTEP_SPACINGS, 'leading');
    this.stepsOffset = readNumber(config, 'steps_offset', 0, { integer: true, min: 0 });
    this.schedule = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    const n = numInferenceSteps;
    assertInferenceSteps(this.className, n, this.numTrainTimesteps);
    if (!this.skipPrkSteps && n < PNDM_ORDER) {
      throw misuse(
        this.className,
        `num_inference_steps must be >= ${PNDM_ORDER} without skip_prk_steps, got ${n}`,
      );
    }
    this.numInferenceSteps = n;
    // Ascending, as diffusers' `_timesteps`.
    let base: number[];
    if (this.spacing === 'linspace') base = npLinspace(0, this.numTrainTimesteps - 1, n).map(roundHalfEven);
    else if (this.spacing === 'leading') {
      const ratio = Math.floor(this.numTrainTimesteps / n);
      base = Array.from({ length: n }, (_, i) => i * ratio + this.stepsOffset);
    } else base = trailingTimesteps(this.numTrainTimesteps, n).reverse();

    let plms: number[];
    if (this.skipPrkSteps) {
      // The PLMS warm-up re-evaluates the second timestep: [..., t1, t1, t0] once reversed.
      this.prkTimesteps = [];
      plms = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    } else {
      const half = Math.floor(Math.floor(this.numTrainTimesteps / n) / 2);
      const lastFour = base.slice(-PNDM_ORDER);
      const withHalves = lastFour.flatMap((t) => [t, t + half]).slice(0, -1);
      this.prkTimesteps = withHalves
        .flatMap((t) => [t, t])
        .slice(1, -1)
        .reverse();
      plms = base.slice(0, -3).reverse();
    }
    this.schedule = [...this.prkTimesteps, ...plms];
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = undefined;
    this.curSample = undefined;
  }

  /** PNDM keeps its own counter; img2img simply starts it on a later timestep. */
  setBeginIndex(_index: number): void {}

  modelInputScale(_timestep: number): number {
    return 1;
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: StepOptions = {}): StepResult {
    if (this.numInferenceSteps === undefined) throw misuse(this.className, 'call setTimesteps before step');
    assertTrainTimestep(this.className, timestep, this.numTrainTimesteps);
    const prevSample =
      this.counter < this.prkTimesteps.length && !this.skipPrkSteps
        ? this.stepPrk(modelOutput, timestep, sample, this.numInferenceSteps)
        : this.stepPlms(modelOutput, timestep, sample, this.numInferenceSteps);
    return { prevSample };
  }

  /** One quarter of a pseudo Runge-Kutta step; the fourth combines the four evaluations (1/6, 1/3, 1/3, 1/6). */
  private stepPrk(modelOutput: Tensor, timestep: number, sample: Tensor, n: number): Tensor {
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(this.numTrainTimesteps / n) / 2);
    const prevTimestep = timestep - diffToPrev;
    const rkTimestep = this.prkTimesteps[Math.floor(this.counter / 4) * 4] as number;
    let output = modelOutput;
    const phase = this.counter % 4;
    if (phase === 0) {
      this.curModelOutput = linearCombination([[1 / 6, modelOutput]]);
      this.ets.push(modelOutput);
      this.curSample = sample;
    } else if (phase === 1 || phase === 2) {
      this.curModelOutput = this.accumulate(modelOutput, 1 / 3);
    } else {
      output = this.accumulate(modelOutput, 1 / 6);
      this.curModelOutput = undefined;
    }
    const prev = this.prevSample(this.curSample ?? sample, rkTimestep, prevTimestep, output);
    this.counter += 1;
    return prev;
  }

  private accumulate(modelOutput: Tensor, weight: number): Tensor {
    if (this.curModelOutput === undefined) return linearCombination([[weight, modelOutput]]);
    return linearCombination([
      [1, this.curModelOutput],
      [weight, modelOutput],
    ]);
  }

  /** One linear multi-step (Adams-Bashforth) step over up to four previous model outputs. */
  private stepPlms(modelOutput: Tensor, timestep: number, sample: Tensor, n: number): Tensor {
    if (!this.skipPrkSteps && this.ets.length < 3) {
      throw misuse(
        this.className,
        'PLMS needs the Runge-Kutta warm-up first; step through `timesteps` in order',
      );
    }
    const stride = Math.floor(this.numTrainTimesteps / n);
    let current = timestep;
    let prevTimestep = timestep - stride;
    if (this.counter !== 1) {
      this.ets = [...this.ets.slice(-3), modelOutput];
    } else {
      // The repeated warm-up timestep: step again from the same point with the averaged output.
      prevTimestep = timestep;
      current = timestep + stride;
    }
    let x = sample;
    let output: Tensor;
    const ets = this.ets;
    const e = (k: number) => ets[ets.length - k] as Tensor;
    if (ets.length === 1 && this.counter === 0) {
      output = modelOutput;
      this.curSample = sample;
    } else if (ets.length === 1 && this.counter === 1) {
      output = linearCombination([
        [0.5, modelOutput],
        [0.5, e(1)],
      ]);
      x = this.curSample ?? sample;
      this.curSample = undefined;
    } else if (ets.length === 2) {
      output = linearCombination([
        [1.5, e(1)],
        [-0.5, e(2)],
      ]);
    } else if (ets.length === 3) {
      output = linearCombination([
        [23 / 12, e(1)],
        [-16 / 12, e(2)],
        [5 / 12, e(3)],
      ]);
    } else {
      output = linearCombination([
        [55 / 24, e(1)],
        [-59 / 24, e(2)],
        [37 / 24, e(3)],
        [-9 / 24, e(4)],
      ]);
    }
    const prev = this.prevSample(x, current, prevTimestep, output);
    this.counter += 1;
    return prev;
  }

  /** Formula (9) of the PNDM paper: x_{t-delta} from x_t and the (combined) noise estimate. */
  private prevSample(sample: Tensor, timestep: number, prevTimestep: number, modelOutput: Tensor): Tensor {
    const alphaProd = this.alphasCumprod[timestep] as number;
    const alphaPrev =
      prevTimestep >= 0 ? (this.alphasCumprod[prevTimestep] as number) : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const betaPrev = f32(1 - alphaPrev);
    let epsilon = modelOutput;
    if (this.predictionType === 'v_prediction') {
      epsilon = linearCombination([
        [f32(Math.sqrt(alphaProd)), modelOutput],
        [f32(Math.sqrt(betaProd)), sample],
      ]);
    }
    const sampleCoeff = f32(Math.sqrt(f32(alphaPrev / alphaProd)));
    const denominator = f32(
      alphaProd * f32(Math.sqrt(betaPrev)) + f32(Math.sqrt(f32(alphaProd * betaProd * alphaPrev))),
    );
    return linearCombination([
      [sampleCoeff, sample],
      [-f32(alphaPrev - alphaProd) / denominator, epsilon],
    ]);
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    assertTrainTimestep(this.className, timestep, this.numTrainTimesteps);
    return noiseWithAlpha(original, noise, this.alphasCumprod[timestep] as number);
  }
}
