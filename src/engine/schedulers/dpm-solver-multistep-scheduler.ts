import { readNoiseSchedule } from './noise-schedule.ts';
import { npArange, npLinspace, roundHalfEven } from './numpy-ranges.ts';
import {
  limitX0,
  type PredictionType,
  readPredictionType,
  readX0Limits,
  type X0Limits,
} from './prediction.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import {
  configError,
  readBoolean,
  readChoice,
  readNumber,
  readOptionalNumber,
  rejectEnabled,
  type SchedulerConfig,
} from './scheduler-config.ts';
import { assertInferenceSteps, misuse } from './scheduler-misuse.ts';
import { interpAtIndex, karrasSigmas, logSigmasOf, sigmaToTimestep, trainingSigmas } from './sigmas.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';
import { linearCombination } from './tensor-math.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;

type Algorithm = 'dpmsolver++' | 'dpmsolver';

/** alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t, lambda = log(alpha_t / sigma_t). */
function alphaSigmaLambda(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = f32(1 / f32(Math.sqrt(f32(sigma * sigma + 1))));
  const s = f32(sigma * alpha);
  return { alpha, sigma: s, lambda: Math.log(alpha) - Math.log(s) };
}

/**
 * Port of diffusers' `DPMSolverMultistepScheduler` (Lu et al. 2022, DPM-Solver and DPM-Solver++),
 * orders 1-3, midpoint or heun second-order update, with Karras sigmas as an option. The SDE
 * variants are not ported.
 */
export class DpmSolverMultistepScheduler implements Scheduler {
  readonly className = 'DPMSolverMultistepScheduler';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  readonly numTrainTimesteps: number;
  private readonly alphasCumprod: Float64Array;
  private readonly predictionType: PredictionType;
  private readonly limits: X0Limits;
  private readonly solverOrder: number;
  private readonly algorithm: Algorithm;
  private readonly solverType: 'midpoint' | 'heun';
  private readonly lowerOrderFinal: boolean;
  private readonly eulerAtFinal: boolean;
  private readonly useKarrasSigmas: boolean;
  private readonly sigmaMin: number | undefined;
  private readonly sigmaMax: number | undefined;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  private readonly lambdaMinClipped: number;
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private readonly index = new StepIndex('DPMSolverMultistepScheduler');
  private schedule: number[];
  /** One more than `timesteps`: the noise level after the last step. */
  sigmas: number[];
  private modelOutputs: Array<Tensor | undefined> = [];
  private lowerOrderNums = 0;

  constructor(config: SchedulerConfig) {
    const noise = readNoiseSchedule(config, { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' });
    this.numTrainTimesteps = noise.numTrainTimesteps;
    this.alphasCumprod = noise.alphasCumprod.slice();
    if (readBoolean(config, 'rescale_betas_zero_snr', false))
      this.alphasCumprod[this.numTrainTimesteps - 1] = 2 ** -24;
    this.predictionType = readPredictionType(config);
    this.limits = { ...readX0Limits(config, false), clipSample: false };
    this.solverOrder = readNumber(config, 'solver_order', 2, { integer: true, min: 1, max: 3 });
    const algorithm = readChoice(
      config,
      'algorithm_type',
      ['dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'sde-dpmsolver', 'deis'],
      'dpmsolver++',
    );
    if (algorithm !== 'dpmsolver++' && algorithm !== 'dpmsolver') {
      throw configError(
        'algorithm_type',
        `"${algorithm}" is not supported by easel (use "dpmsolver++" or "dpmsolver")`,
      );
    }
    this.algorithm = algorithm;
    this.solverType = readChoice(config, 'solver_type', ['midpoint', 'heun'], 'midpoint');
    this.lowerOrderFinal = readBoolean(config, 'lower_order_final', true);
    this.eulerAtFinal = readBoolean(config, 'euler_at_final', false);
    this.useKarrasSigmas = readBoolean(config, 'use_karras_sigmas', false);
    this.sigmaMin = readOptionalNumber(config, 'sigma_min');
    this.sigmaMax = readOptionalNumber(config, 'sigma_max');
    this.finalSigmasType = readChoice(config, 'final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    if (this.algorithm === 'dpmsolver' && this.finalSigmasType === 'zero') {
      throw configError(
        'final_sigmas_type',
        '"zero" needs algorithm_type "dpmsolver++"; use "sigma_min" with "dpmsolver"',
      );
    }
    // diffusers' default -inf (no clipping) arrives as -Infinity through parseSchedulerConfigJson.
    this.lambdaMinClipped =
      config.lambda_min_clipped === -Infinity
        ? -Infinity
        : readNumber(config, 'lambda_min_clipped', -Infinity);
    this.spacing = readChoice(config, 'timestep_spacing', TIMESTEP_SPACINGS, 'linspace');
    this.stepsOffset = readNumber(config, 'steps_offset', 0, { integer: true, min: 0 });
    rejectEnabled(config, 'use_lu_lambdas', 'not ported');
    rejectEnabled(config, 'use_exponential_sigmas', 'only Karras sigmas are ported');
    rejectEnabled(config, 'use_beta_sigmas', 'only Karras sigmas are ported');
    rejectEnabled(config, 'use_flow_sigmas', 'flow-matching models are not supported');
    if (config.variance_type !== undefined && config.variance_type !== null) {
      throw configError(
        'variance_type',
        'is not supported by easel (models with learned variance are not ported)',
      );
    }
    this.sigmas = [...Array.from(trainingSigmas(this.alphasCumprod)).reverse(), 0];
    this.schedule = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /** The timesteps at or above which lambda >= lambda_min_clipped (all, by default). */
  private lastTimestep(): number {
    const lambdas = Array.from(this.alphasCumprod, (a) => {
      const alpha = f32(Math.sqrt(a));
      const sigma = f32(Math.sqrt(f32(1 - a)));
      return f32(f32(Math.log(alpha)) - f32(Math.log(sigma)));
    }).reverse();
    // torch.searchsorted on the ascending flipped lambdas: how many are below the clip.
    const clippedIdx = lambdas.filter((l) => l < this.lambdaMinClipped).length;
    return this.numTrainTimesteps - clippedIdx;
  }

  setTimesteps(numInferenceSteps: number): void {
    const n = numInferenceSteps;
    assertInferenceSteps(this.className, n, this.numTrainTimesteps);
    const last = this.lastTimestep();
    let timesteps: number[];
    if (this.spacing === 'linspace') {
      timesteps = npLinspace(0, last - 1, n + 1)
        .map(roundHalfEven)
        .reverse()
        .slice(0, n);
    } else if (this.spacing === 'leading') {
      const ratio = Math.floor(last / (n + 1));
      timesteps = npArange(0, n + 1, 1)
        .map((i) => i * ratio + this.stepsOffset)
        .reverse()
        .slice(0, n);
    } else {
      timesteps = npArange(last, 0, -this.numTrainTimesteps / n)
        .slice(0, n)
        .map((t) => roundHalfEven(t) - 1);
    }
    const train = trainingSigmas(this.alphasCumprod);
    let sigmas: number[];
    let sigmaLast: number;
    if (this.useKarrasSigmas) {
      const logSigmas = logSigmasOf(train);
      sigmas = karrasSigmas(
        this.sigmaMin ?? (train[0] as number),
        this.sigmaMax ?? (train[train.length - 1] as number),
        n,
      );
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToTimestep(s, logSigmas)));
      sigmaLast = sigmas[sigmas.length - 1] as number;
    } else {
      sigmas = timesteps.map((t) => interpAtIndex(t, train));
      const a0 = this.alphasCumprod[0] as number;
      sigmaLast = Math.sqrt((1 - a0) / a0);
    }
    this.sigmas = [...sigmas, this.finalSigmasType === 'sigma_min' ? sigmaLast : 0].map(f32);
    this.schedule = timesteps;
    this.modelOutputs = Array.from({ length: this.solverOrder }, () => undefined);
    this.lowerOrderNums = 0;
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  scaleModelInput(sample: Tensor, _timestep: number): Tensor {
    // DPM-Solver works on the unscaled sample (alpha/sigma parameterisation).
    return sample;
  }

  /** The data prediction x0 (DPM-Solver++) or the noise prediction epsilon (DPM-Solver). */
  private convertModelOutput(modelOutput: Tensor, sample: Tensor, sigma: number): Tensor {
    const { alpha, sigma: s } = alphaSigmaLambda(sigma);
    let x0: Tensor;
    if (this.predictionType === 'epsilon') {
      if (this.algorithm === 'dpmsolver' && !this.limits.thresholding) return modelOutput;
      x0 = linearCombination([
        [1 / alpha, sample],
        [-s / alpha, modelOutput],
      ]);
    } else if (this.predictionType === 'sample') {
      x0 = modelOutput;
    } else {
      x0 = linearCombination([
        [alpha, sample],
        [-s, modelOutput],
      ]);
    }
    x0 = limitX0(x0, this.limits);
    if (this.algorithm === 'dpmsolver++') return x0;
    return linearCombination([
      [1 / s, sample],
      [-alpha / s, x0],
    ]);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: StepOptions = {}): StepResult {
    if (this.modelOutputs.length === 0) throw misuse(this.className, 'call setTimesteps before step');
    const i = this.index.resolve(this.schedule, timestep, 'last');
    const count = this.schedule.length;
    const lowerOrderFinal =
      i === count - 1 &&
      (this.eulerAtFinal || (this.lowerOrderFinal && count < 15) || this.finalSigmasType === 'zero');
    const lowerOrderSecond = i === count - 2 && this.lowerOrderFinal && count < 15;

    const converted = this.convertModelOutput(modelOutput, sample, this.sigmas[i] as number);
    this.modelOutputs = [...this.modelOutputs.slice(1), converted];

    let prevSample: Tensor;
    if (this.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      prevSample = this.firstOrderUpdate(converted, sample, i);
    } else if (this.solverOrder === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
      prevSample = this.secondOrderUpdate(sample, i);
    } else {
      prevSample = this.thirdOrderUpdate(sample, i);
    }
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums += 1;
    this.index.advance();
    return this.algorithm === 'dpmsolver++' ? { prevSample, predOriginalSample: converted } : { prevSample };
  }

  private sigmaAt(i: number): { alpha: number; sigma: number; lambda: number } {
    const sigma = this.sigmas[i];
    if (sigma === undefined || i < 0) throw misuse(this.className, 'stepped outside the schedule');
    return alphaSigmaLambda(sigma);
  }

  private output(k: number): Tensor {
    const m = this.modelOutputs[this.modelOutputs.length - k];
    if (m === undefined) throw misuse(this.className, 'multistep update without previous model outputs');
    return m;
  }

  private firstOrderUpdate(m0: Tensor, sample: Tensor, i: number): Tensor {
    const t = this.sigmaAt(i + 1);
    const s = this.sigmaAt(i);
    const h = t.lambda - s.lambda;
    if (this.algorithm === 'dpmsolver++') {
      return linearCombination([
        [t.sigma / s.sigma, sample],
        [-t.alpha * (Math.exp(-h) - 1), m0],
      ]);
    }
    return linearCombination([
      [t.alpha / s.alpha, sample],
      [-t.sigma * (Math.exp(h) - 1), m0],
    ]);
  }

  private secondOrderUpdate(sample: Tensor, i: number): Tensor {
    const t = this.sigmaAt(i + 1);
    const s0 = this.sigmaAt(i);
    const s1 = this.sigmaAt(i - 1);
    const m0 = this.output(1);
    const m1 = this.output(2);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    // D1 = (m0 - m1) / r0, folded into the coefficients of m0 and m1.
    let c0: number;
    let c1: number;
    let cs: number;
    if (this.algorithm === 'dpmsolver++') {
      cs = t.sigma / s0.sigma;
      c0 = -t.alpha * (Math.exp(-h) - 1);
      c1 =
        this.solverType === 'midpoint'
          ? -0.5 * t.alpha * (Math.exp(-h) - 1)
          : t.alpha * ((Math.exp(-h) - 1) / h + 1);
    } else {
      cs = t.alpha / s0.alpha;
      c0 = -t.sigma * (Math.exp(h) - 1);
      c1 =
        this.solverType === 'midpoint'
          ? -0.5 * t.sigma * (Math.exp(h) - 1)
          : -t.sigma * ((Math.exp(h) - 1) / h - 1);
    }
    return linearCombination([
      [cs, sample],
      [c0 + c1 / r0, m0],
      [-c1 / r0, m1],
    ]);
  }

  private thirdOrderUpdate(sample: Tensor, i: number): Tensor {
    const t = this.sigmaAt(i + 1);
    const s0 = this.sigmaAt(i);
    const s1 = this.sigmaAt(i - 1);
    const s2 = this.sigmaAt(i - 2);
    const m0 = this.output(1);
    const m1 = this.output(2);
    const m2 = this.output(3);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const r1 = (s1.lambda - s2.lambda) / h;
    // D1_0 = (m0 - m1) / r0, D1_1 = (m1 - m2) / r1, D1 = D1_0 + r0 / (r0 + r1) (D1_0 - D1_1), D2 = (D1_0 - D1_1) / (r0 + r1)
    const d10 = linearCombination([
      [1 / r0, m0],
      [-1 / r0, m1],
    ]);
    const d11 = linearCombination([
      [1 / r1, m1],
      [-1 / r1, m2],
    ]);
    const d1 = linearCombination([
      [1 + r0 / (r0 + r1), d10],
      [-r0 / (r0 + r1), d11],
    ]);
    const d2 = linearCombination([
      [1 / (r0 + r1), d10],
      [-1 / (r0 + r1), d11],
    ]);
    if (this.algorithm === 'dpmsolver++') {
      const e = Math.exp(-h) - 1;
      return linearCombination([
        [t.sigma / s0.sigma, sample],
        [-t.alpha * e, m0],
        [t.alpha * (e / h + 1), d1],
        [-t.alpha * ((e + h) / (h * h) - 0.5), d2],
      ]);
    }
    const e = Math.exp(h) - 1;
    return linearCombination([
      [t.alpha / s0.alpha, sample],
      [-t.sigma * e, m0],
      [-t.sigma * (e / h - 1), d1],
      [-t.sigma * ((e - h) / (h * h) - 0.5), d2],
    ]);
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    const i = addNoiseIndex(this.className, this.index, this.schedule, timestep);
    const { alpha, sigma } = alphaSigmaLambda(this.sigmas[i] as number);
    return linearCombination([
      [alpha, original],
      [sigma, noise],
    ]);
  }
}
