import { dataPrediction, noiseFromData, timestepsAboveLambda } from './alpha-sigma.ts';
import { multistepSchedule } from './multistep-schedule.ts';
import { limitX0 } from './prediction.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import {
  configError,
  readBoolean,
  readChoice,
  readNumber,
  rejectFlowMatching,
  rejectLearnedVariance,
  type SchedulerConfig,
} from './scheduler-config.ts';
import { assertInferenceSteps, requireNoise } from './scheduler-misuse.ts';
import { AlphaSigmaSolver } from './solver-base.ts';
import type { Tensor } from './tensor.ts';
import { likeShape, linearCombination } from './tensor-math.ts';

const f32 = Math.fround;

type Algorithm = 'dpmsolver++' | 'dpmsolver' | 'sde-dpmsolver++';

/**
 * diffusers' `get_order_list`: the order of each step, in groups of 1, 2(, 3) so each group is one
 * singlestep update of that order spread over as many model evaluations.
 */
export function singlestepOrders(
  steps: number,
  order: number,
  lowerOrderFinal: boolean,
  finalZero: boolean,
): number[] {
  const repeat = (group: number[], times: number) =>
    Array.from({ length: Math.max(times, 0) }, () => group).flat();
  let orders: number[];
  if (order === 1) orders = repeat([1], steps);
  else if (!lowerOrderFinal)
    orders = order === 3 ? repeat([1, 2, 3], Math.floor(steps / 3)) : repeat([1, 2], Math.floor(steps / 2));
  else if (order === 3) {
    const groups = Math.floor(steps / 3);
    orders =
      steps % 3 === 0
        ? [...repeat([1, 2, 3], groups - 1), 1, 2, 1]
        : steps % 3 === 1
          ? [...repeat([1, 2, 3], groups), 1]
          : [...repeat([1, 2, 3], groups), 1, 2];
  } else {
    orders =
      steps % 2 === 0
        ? [...repeat([1, 2], steps / 2 - 1), 1, 1]
        : [...repeat([1, 2], Math.floor(steps / 2)), 1];
  }
  if (finalZero && orders.length > 0) orders[orders.length - 1] = 1;
  return orders;
}

/**
 * Port of diffusers' `DPMSolverSinglestepScheduler` (Lu et al. 2022, singlestep DPM-Solver and
 * DPM-Solver++): steps are grouped, and a group of order k makes one k-th order update from the
 * group's starting sample using the k model outputs inside it. `sde-dpmsolver++` adds noise from
 * `options.noise` on every step.
 */
export class DpmSolverSinglestepScheduler extends AlphaSigmaSolver implements Scheduler {
  readonly stochastic: boolean;
  private readonly algorithm: Algorithm;
  private readonly solverType: 'midpoint' | 'heun';
  /** diffusers turns this on for good when a schedule needs it (uneven steps, final sigma 0). */
  private lowerOrderFinal: boolean;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  private readonly lambdaMinClipped: number;
  private orderList: number[] = [];
  /** The sample at the start of the current group. */
  private groupSample: Tensor | undefined;

  constructor(config: SchedulerConfig) {
    super('DPMSolverSinglestepScheduler', config, { zeroSnr: 'refuse', karrasRange: false });
    const algorithm = readChoice(
      config,
      'algorithm_type',
      ['dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'deis'],
      'dpmsolver++',
    );
    this.algorithm = algorithm === 'deis' ? 'dpmsolver++' : algorithm;
    this.stochastic = this.algorithm === 'sde-dpmsolver++';
    const solverType = readChoice(
      config,
      'solver_type',
      ['midpoint', 'heun', 'logrho', 'bh1', 'bh2'],
      'midpoint',
    );
    this.solverType = solverType === 'heun' ? 'heun' : 'midpoint';
    this.lowerOrderFinal = readBoolean(config, 'lower_order_final', false);
    this.finalSigmasType = readChoice(config, 'final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    if (this.algorithm === 'dpmsolver' && this.finalSigmasType === 'zero') {
      throw configError(
        'final_sigmas_type',
        '"zero" needs algorithm_type "dpmsolver++" or "sde-dpmsolver++"; use "sigma_min" with "dpmsolver"',
      );
    }
    if (this.algorithm === 'dpmsolver' && this.limits.thresholding) {
      // diffusers' singlestep thresholding on the noise prediction indexes alphas by an unset timestep.
      throw configError(
        'thresholding',
        'with algorithm_type "dpmsolver" is broken in diffusers; use "dpmsolver++"',
      );
    }
    this.lambdaMinClipped =
      config.lambda_min_clipped === -Infinity
        ? -Infinity
        : readNumber(config, 'lambda_min_clipped', -Infinity);
    rejectLearnedVariance(config);
    rejectFlowMatching(config);
  }

  setTimesteps(numInferenceSteps: number): void {
    const n = numInferenceSteps;
    assertInferenceSteps(this.className, n, this.numTrainTimesteps);
    // The singlestep solver always spaces linearly (it has no timestep_spacing).
    const { timesteps, sigmas } = multistepSchedule(
      {
        alphasCumprod: this.alphasCumprod,
        spacing: 'linspace',
        stepsOffset: 0,
        lastTimestep: timestepsAboveLambda(this.alphasCumprod, this.lambdaMinClipped),
        sigmaSpacing: this.sigmaSpacing,
        roundKarras: true,
      },
      n,
    );
    const a0 = this.alphasCumprod[0] as number;
    this.sigmas = [...sigmas, this.finalSigmasType === 'sigma_min' ? Math.sqrt((1 - a0) / a0) : 0].map(f32);
    this.schedule = timesteps;
    this.history.reset(this.solverOrder);
    this.groupSample = undefined;
    if (n % this.solverOrder !== 0 || this.finalSigmasType === 'zero') this.lowerOrderFinal = true;
    this.orderList = singlestepOrders(
      n,
      this.solverOrder,
      this.lowerOrderFinal,
      this.finalSigmasType === 'zero',
    );
    this.index.reset();
  }

  private convertModelOutput(modelOutput: Tensor, sample: Tensor, i: number): Tensor {
    const at = this.at(i);
    if (this.algorithm !== 'dpmsolver') {
      return limitX0(dataPrediction(this.predictionType, modelOutput, sample, at), this.limits);
    }
    if (this.predictionType === 'epsilon') return modelOutput;
    return noiseFromData(dataPrediction(this.predictionType, modelOutput, sample, at), sample, at);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): StepResult {
    this.history.assertScheduled();
    const i = this.index.resolve(this.schedule, timestep, 'last');
    const converted = this.convertModelOutput(modelOutput, sample, i);
    this.history.push(converted);
    const noise = this.stochastic
      ? likeShape(sample, requireNoise(this.className, options.noise)(), 'DPM-Solver SDE noise')
      : undefined;
    let order = this.orderList[i] ?? 1;
    // Fewer outputs than the order (the loop began mid-group): fall back to what there is.
    while (!this.history.has(order)) order -= 1;
    if (order === 1) this.groupSample = sample;
    const start = this.groupSample as Tensor;
    const prevSample =
      order === 1
        ? this.update(start, i, [[1, converted]], 0, noise)
        : order === 2
          ? this.secondOrder(start, i, noise)
          : this.thirdOrder(start, i, noise);
    this.index.advance();
    return this.algorithm === 'dpmsolver' ? { prevSample } : { prevSample, predOriginalSample: converted };
  }

  /**
   * One exponential-integrator update from the group's start `s` (step `i - back`) to step i + 1:
   * `outputs` is D0 with the folded D1 term (weights relative to D0's coefficient).
   */
  private update(
    sample: Tensor,
    i: number,
    outputs: ReadonlyArray<readonly [number, Tensor]>,
    back: number,
    noise: Tensor | undefined,
    extra: ReadonlyArray<readonly [number, Tensor]> = [],
  ): Tensor {
    const t = this.at(i + 1);
    const s = this.at(i - back);
    const h = t.lambda - s.lambda;
    if (this.algorithm === 'dpmsolver++') {
      const c = -t.alpha * (Math.exp(-h) - 1);
      return linearCombination([
        [t.sigma / s.sigma, sample],
        ...outputs.map(([k, m]) => [k * c, m] as const),
        ...extra,
      ]);
    }
    if (this.algorithm === 'dpmsolver') {
      const c = -t.sigma * (Math.exp(h) - 1);
      return linearCombination([
        [t.alpha / s.alpha, sample],
        ...outputs.map(([k, m]) => [k * c, m] as const),
        ...extra,
      ]);
    }
    const e = Math.exp(-2 * h);
    return linearCombination([
      [(t.sigma / s.sigma) * Math.exp(-h), sample],
      ...outputs.map(([k, m]) => [k * t.alpha * (1 - e), m] as const),
      ...extra,
      [t.sigma * Math.sqrt(1 - e), noise as Tensor],
    ]);
  }

  /** Relative weight of D1 (to D0's coefficient) for the second-order update and the midpoint third-order one. */
  private d1Weight(h: number, midpointHalf: boolean): number {
    if (this.solverType === 'midpoint' && midpointHalf) return 0.5;
    if (this.algorithm === 'dpmsolver++') return ((Math.exp(-h) - 1) / h + 1) / -(Math.exp(-h) - 1);
    if (this.algorithm === 'dpmsolver') return ((Math.exp(h) - 1) / h - 1) / (Math.exp(h) - 1);
    const e = Math.exp(-2 * h);
    return ((1 - e) / (-2 * h) + 1) / (1 - e);
  }

  private secondOrder(sample: Tensor, i: number, noise: Tensor | undefined): Tensor {
    const t = this.at(i + 1);
    const s0 = this.at(i);
    const s1 = this.at(i - 1);
    const m0 = this.output(1);
    const m1 = this.output(2);
    const h = t.lambda - s1.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    // D0 = m1 (the group's first output), D1 = (m0 - m1) / r0.
    const w = this.d1Weight(h, true);
    return this.update(
      sample,
      i,
      [
        [1 - w / r0, m1],
        [w / r0, m0],
      ],
      1,
      noise,
    );
  }

  private thirdOrder(sample: Tensor, i: number, noise: Tensor | undefined): Tensor {
    const t = this.at(i + 1);
    const s0 = this.at(i);
    const s1 = this.at(i - 1);
    const s2 = this.at(i - 2);
    const [m0, m1, m2] = [this.output(1), this.output(2), this.output(3)];
    const h = t.lambda - s2.lambda;
    const r0 = (s0.lambda - s2.lambda) / h;
    const r1 = (s1.lambda - s2.lambda) / h;
    // D1_0 = (m1 - m2) / r1, D1_1 = (m0 - m2) / r0; midpoint uses D1_1 alone, heun D1 and D2.
    const d10 = linearCombination([
      [1 / r1, m1],
      [-1 / r1, m2],
    ]);
    const d11 = linearCombination([
      [1 / r0, m0],
      [-1 / r0, m2],
    ]);
    const w1 = this.d1Weight(h, false);
    if (this.solverType === 'midpoint') {
      return this.update(
        sample,
        i,
        [
          [1, m2],
          [w1, d11],
        ],
        2,
        noise,
      );
    }
    const d1 = linearCombination([
      [r0 / (r0 - r1), d10],
      [-r1 / (r0 - r1), d11],
    ]);
    const d2 = linearCombination([
      [2 / (r0 - r1), d11],
      [-2 / (r0 - r1), d10],
    ]);
    const t2 = this.at(i + 1);
    let c2: number;
    if (this.algorithm === 'dpmsolver++') c2 = -t2.alpha * ((Math.exp(-h) - 1 + h) / (h * h) - 0.5);
    else if (this.algorithm === 'dpmsolver') c2 = -t2.sigma * ((Math.exp(h) - 1 - h) / (h * h) - 0.5);
    else c2 = t2.alpha * ((1 - Math.exp(-2 * h) - 2 * h) / (2 * h) ** 2 - 0.5);
    return this.update(
      sample,
      i,
      [
        [1, m2],
        [w1, d1],
      ],
      2,
      noise,
      [[c2, d2]],
    );
  }
}
