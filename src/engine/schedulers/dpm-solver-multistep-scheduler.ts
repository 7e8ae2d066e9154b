import { type AlphaSigma, alphaSigmaLambda, timestepsAboveLambda } from './alpha-sigma.ts';
import { multistepSchedule } from './multistep-schedule.ts';
import { limitX0 } from './prediction.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import {
  configError,
  readBoolean,
  readChoice,
  readNumber,
  rejectEnabled,
  rejectFlowMatching,
  rejectLearnedVariance,
  type SchedulerConfig,
} from './scheduler-config.ts';
import { assertInferenceSteps, requireNoise } from './scheduler-misuse.ts';
import { AlphaSigmaSolver } from './solver-base.ts';
import type { Tensor } from './tensor.ts';
import { likeShape, linearCombination } from './tensor-math.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;

const ALGORITHMS = ['dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'sde-dpmsolver'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

/**
 * Port of diffusers' `DPMSolverMultistepScheduler` (Lu et al. 2022, DPM-Solver and DPM-Solver++),
 * orders 1-3, midpoint or heun second-order update, the ODE solvers and their SDE variants
 * (`sde-dpmsolver++`, Lu et al. 2022 appendix; `sde-dpmsolver`), with Karras, exponential or beta
 * sigmas. The SDE steps take their noise from `options.noise`.
 */
export class DpmSolverMultistepScheduler extends AlphaSigmaSolver implements Scheduler {
  readonly stochastic: boolean;
  private readonly betaSchedule: unknown;
  private readonly algorithm: Algorithm;
  private readonly solverType: 'midpoint' | 'heun';
  private readonly lowerOrderFinal: boolean;
  private readonly eulerAtFinal: boolean;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  private readonly lambdaMinClipped: number;
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;

  constructor(config: SchedulerConfig) {
    // diffusers' class has no sigma_min / sigma_max: the Karras ends are the training range's.
    super('DPMSolverMultistepScheduler', config, { zeroSnr: 'last-alpha', karrasRange: false });
    // As diffusers, a DEIS or UniPC model config's algorithm and solver type map to DPM-Solver++'s.
    const algorithm = readChoice(config, 'algorithm_type', [...ALGORITHMS, 'deis'], 'dpmsolver++');
    this.algorithm = algorithm === 'deis' ? 'dpmsolver++' : algorithm;
    this.stochastic = this.algorithm.startsWith('sde-');
    const solverType = readChoice(
      config,
      'solver_type',
      ['midpoint', 'heun', 'logrho', 'bh1', 'bh2'],
      'midpoint',
    );
    this.solverType = solverType === 'heun' ? 'heun' : 'midpoint';
    if (this.algorithm === 'sde-dpmsolver' && this.solverOrder === 3) {
      throw configError(
        'solver_order',
        '3 has no update for algorithm_type "sde-dpmsolver" in diffusers; use order 1 or 2, or "sde-dpmsolver++"',
      );
    }
    this.lowerOrderFinal = readBoolean(config, 'lower_order_final', true);
    this.eulerAtFinal = readBoolean(config, 'euler_at_final', false);
    this.betaSchedule = config.beta_schedule;
    this.finalSigmasType = readChoice(config, 'final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    if (!this.algorithm.endsWith('++') && this.finalSigmasType === 'zero') {
      throw configError(
        'final_sigmas_type',
        `"zero" needs algorithm_type "dpmsolver++" or "sde-dpmsolver++"; use "sigma_min" with "${this.algorithm}"`,
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
    rejectFlowMatching(config);
    rejectLearnedVariance(config);
  }

  setTimesteps(numInferenceSteps: number): void {
    const n = numInferenceSteps;
    assertInferenceSteps(this.className, n, this.numTrainTimesteps);
    const { timesteps, sigmas } = multistepSchedule(
      {
        alphasCumprod: this.alphasCumprod,
        spacing: this.spacing,
        stepsOffset: this.stepsOffset,
        lastTimestep: timestepsAboveLambda(this.alphasCumprod, this.lambdaMinClipped),
        sigmaSpacing: this.sigmaSpacing,
        roundKarras: this.betaSchedule !== 'squaredcos_cap_v2',
      },
      n,
    );
    const a0 = this.alphasCumprod[0] as number;
    const sigmaLast = this.finalSigmasType === 'sigma_min' ? Math.sqrt((1 - a0) / a0) : 0;
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.schedule = timesteps;
    this.history.reset(this.solverOrder);
    this.index.reset();
  }

  /** The data prediction x0 (DPM-Solver++) or the noise prediction epsilon (DPM-Solver). */
  private convertModelOutput(modelOutput: Tensor, sample: Tensor, sigma: number): Tensor {
    const { alpha, sigma: s } = alphaSigmaLambda(sigma);
    let x0: Tensor;
    if (this.predictionType === 'epsilon') {
      if (!this.algorithm.endsWith('++') && !this.limits.thresholding) return modelOutput;
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
    if (this.algorithm.endsWith('++')) return x0;
    return linearCombination([
      [1 / s, sample],
      [-alpha / s, x0],
    ]);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): StepResult {
    this.history.assertScheduled();
    const i = this.index.resolve(this.schedule, timestep, 'last');
    const count = this.schedule.length;
    const lowerOrderFinal =
      i === count - 1 &&
      (this.eulerAtFinal || (this.lowerOrderFinal && count < 15) || this.finalSigmasType === 'zero');
    const lowerOrderSecond = i === count - 2 && this.lowerOrderFinal && count < 15;

    const converted = this.convertModelOutput(modelOutput, sample, this.sigmas[i] as number);
    this.history.push(converted);

    // diffusers draws the SDE noise on every step, the last included.
    const noise = this.stochastic
      ? likeShape(sample, requireNoise(this.className, options.noise)(), 'DPM-Solver SDE noise')
      : undefined;
    let prevSample: Tensor;
    if (this.solverOrder === 1 || this.history.filled < 1 || lowerOrderFinal) {
      prevSample = this.firstOrderUpdate(converted, sample, i, noise);
    } else if (this.solverOrder === 2 || this.history.filled < 2 || lowerOrderSecond) {
      prevSample = this.secondOrderUpdate(sample, i, noise);
    } else {
      prevSample = this.thirdOrderUpdate(sample, i, noise);
    }
    this.history.stepDone();
    this.index.advance();
    return this.algorithm.endsWith('++') ? { prevSample, predOriginalSample: converted } : { prevSample };
  }

  private firstOrderUpdate(m0: Tensor, sample: Tensor, i: number, noise: Tensor | undefined): Tensor {
    const t = this.at(i + 1);
    const s = this.at(i);
    const h = t.lambda - s.lambda;
    if (noise !== undefined) {
      return linearCombination(sdeTerms(this.algorithm, t, s, h, sample, noise, [[1, m0]]));
    }
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

  private secondOrderUpdate(sample: Tensor, i: number, noise: Tensor | undefined): Tensor {
    const t = this.at(i + 1);
    const s0 = this.at(i);
    const s1 = this.at(i - 1);
    const m0 = this.output(1);
    const m1 = this.output(2);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    if (noise !== undefined) {
      // D1 = (m0 - m1) / r0 with weight `d1` relative to D0's (midpoint: 1/2; heun: phi-based).
      const e = Math.exp(-2 * h);
      const d1 =
        this.algorithm === 'sde-dpmsolver++'
          ? this.solverType === 'midpoint'
            ? 0.5
            : ((1 - e) / (-2 * h) + 1) / (1 - e)
          : this.solverType === 'midpoint'
            ? 0.5
            : ((Math.exp(h) - 1) / h - 1) / (Math.exp(h) - 1);
      return linearCombination(
        sdeTerms(this.algorithm, t, s0, h, sample, noise, [
          [1 + d1 / r0, m0],
          [-d1 / r0, m1],
        ]),
      );
    }
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

  private thirdOrderUpdate(sample: Tensor, i: number, noise: Tensor | undefined): Tensor {
    const t = this.at(i + 1);
    const s0 = this.at(i);
    const s1 = this.at(i - 1);
    const s2 = this.at(i - 2);
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
    if (noise !== undefined) {
      // Only sde-dpmsolver++ has a third-order update (the constructor refuses sde-dpmsolver's).
      const e = Math.exp(-2 * h);
      return linearCombination([
        [(t.sigma / s0.sigma) * Math.exp(-h), sample],
        [t.alpha * (1 - e), m0],
        [t.alpha * ((1 - e) / (-2 * h) + 1), d1],
        [t.alpha * ((1 - e - 2 * h) / (2 * h) ** 2 - 0.5), d2],
        [t.sigma * Math.sqrt(1 - e), noise],
      ]);
    }
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
}

/**
 * The SDE updates' terms: the decayed sample, the model-output combination `outputs` (D0 plus the
 * folded D1 term) scaled as the data (sde-dpmsolver++) or noise (sde-dpmsolver) prediction, and the
 * injected noise.
 */
function sdeTerms(
  algorithm: Algorithm,
  t: AlphaSigma,
  s: AlphaSigma,
  h: number,
  sample: Tensor,
  noise: Tensor,
  outputs: ReadonlyArray<readonly [number, Tensor]>,
): Array<readonly [number, Tensor]> {
  if (algorithm === 'sde-dpmsolver++') {
    const e = Math.exp(-2 * h);
    return [
      [(t.sigma / s.sigma) * Math.exp(-h), sample],
      ...outputs.map(([c, m]) => [c * t.alpha * (1 - e), m] as const),
      [t.sigma * Math.sqrt(1 - e), noise],
    ];
  }
  return [
    [t.alpha / s.alpha, sample],
    ...outputs.map(([c, m]) => [c * -2 * t.sigma * (Math.exp(h) - 1), m] as const),
    [t.sigma * Math.sqrt(Math.exp(2 * h) - 1), noise],
  ];
}
