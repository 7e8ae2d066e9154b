import { type AlphaSigma, dataPrediction, noiseFromData } from './alpha-sigma.ts';
import { solveLinear } from './linear-solve.ts';
import { multistepSchedule } from './multistep-schedule.ts';
import { limitX0 } from './prediction.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import {
  configError,
  readBoolean,
  readChoice,
  readNumber,
  rejectFlowMatching,
  type SchedulerConfig,
} from './scheduler-config.ts';
import { assertInferenceSteps } from './scheduler-misuse.ts';
import { AlphaSigmaSolver, sigmaMinEnd } from './solver-base.ts';
import type { Tensor } from './tensor.ts';
import { linearCombination } from './tensor-math.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;

/**
 * Port of diffusers' `UniPCMultistepScheduler` (Zhao et al. 2023, UniPC): a multistep predictor
 * (UniP) and, from the second step on, a corrector (UniC) that reuses the model output already
 * computed at the new point, so the corrector costs no extra evaluation. bh1 / bh2 variants, data
 * (`predict_x0`) or noise prediction, Karras / exponential / beta sigmas.
 */
export class UniPcMultistepScheduler extends AlphaSigmaSolver implements Scheduler {
  readonly stochastic = false;
  private readonly predictX0: boolean;
  private readonly solverType: 'bh1' | 'bh2';
  private readonly lowerOrderFinal: boolean;
  private readonly disableCorrector: ReadonlySet<number>;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private lastSample: Tensor | undefined;
  private thisOrder = 1;

  constructor(config: SchedulerConfig) {
    super('UniPCMultistepScheduler', config, { zeroSnr: 'last-alpha', karrasRange: true });
    this.predictX0 = readBoolean(config, 'predict_x0', true);
    // As diffusers, a DPM-Solver or DEIS config's solver type means bh2.
    const solverType = readChoice(config, 'solver_type', ['bh1', 'bh2', 'midpoint', 'heun', 'logrho'], 'bh2');
    this.solverType = solverType === 'bh1' ? 'bh1' : 'bh2';
    this.lowerOrderFinal = readBoolean(config, 'lower_order_final', true);
    this.disableCorrector = new Set(readStepList(config, 'disable_corrector'));
    this.finalSigmasType = readChoice(config, 'final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    this.spacing = readChoice(config, 'timestep_spacing', TIMESTEP_SPACINGS, 'linspace');
    this.stepsOffset = readNumber(config, 'steps_offset', 0, { integer: true, min: 0 });
    if (config.solver_p !== undefined && config.solver_p !== null) {
      throw configError('solver_p', 'is not supported by easel (an external predictor scheduler)');
    }
    rejectFlowMatching(config);
  }

  setTimesteps(numInferenceSteps: number): void {
    const n = numInferenceSteps;
    assertInferenceSteps(this.className, n, this.numTrainTimesteps);
    const { timesteps, sigmas } = multistepSchedule(
      {
        alphasCumprod: this.alphasCumprod,
        spacing: this.spacing,
        stepsOffset: this.stepsOffset,
        lastTimestep: this.numTrainTimesteps,
        sigmaSpacing: this.sigmaSpacing,
        roundKarras: true,
      },
      n,
    );
    const sigmaLast =
      this.finalSigmasType === 'sigma_min' ? sigmaMinEnd(this.alphasCumprod, this.sigmaSpacing, sigmas) : 0;
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.schedule = timesteps;
    this.history.reset(this.solverOrder);
    this.lastSample = undefined;
    this.index.reset();
  }

  /** The data prediction (predict_x0) or the noise prediction, as the solver works in. */
  private convertModelOutput(modelOutput: Tensor, sample: Tensor, i: number): Tensor {
    const at = this.at(i);
    if (this.predictX0)
      return limitX0(dataPrediction(this.predictionType, modelOutput, sample, at), this.limits);
    if (this.predictionType === 'epsilon') return modelOutput;
    return noiseFromData(dataPrediction(this.predictionType, modelOutput, sample, at), sample, at);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: StepOptions = {}): StepResult {
    this.history.assertScheduled();
    const i = this.index.resolve(this.schedule, timestep, 'last');
    const useCorrector = i > 0 && !this.disableCorrector.has(i - 1) && this.lastSample !== undefined;
    const converted = this.convertModelOutput(modelOutput, sample, i);
    let x = sample;
    if (useCorrector) x = this.correct(converted, this.lastSample as Tensor, sample, i, this.thisOrder);
    this.history.push(converted);
    const order = this.lowerOrderFinal
      ? Math.min(this.solverOrder, this.schedule.length - i)
      : this.solverOrder;
    this.thisOrder = Math.min(order, this.history.filled + 1);
    this.lastSample = x;
    const prevSample = this.predict(x, i, this.thisOrder);
    this.history.stepDone();
    this.index.advance();
    return { prevSample };
  }

  /**
   * UniP / UniC coefficients: for ratios r_k of earlier log-SNR gaps to h, the order conditions
   * R rho = b with R[i][k] = r_k^i and b from the phi functions of h (B(h) per bh1 / bh2).
   */
  private coefficients(
    h: number,
    rks: number[],
    order: number,
  ): { hPhi1: number; bh: number; R: number[][]; b: number[] } {
    const hh = this.predictX0 ? -h : h;
    const hPhi1 = Math.expm1(hh);
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    const bh = this.solverType === 'bh1' ? hh : Math.expm1(hh);
    const R: number[][] = [];
    const b: number[] = [];
    for (let k = 1; k <= order; k++) {
      R.push(rks.map((r) => r ** (k - 1)));
      b.push((hPhiK * factorial) / bh);
      factorial *= k + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }
    return { hPhi1, bh, R, b };
  }

  /** The first-order part shared by predictor and corrector, plus the terms of `corrections`. */
  private combine(
    x: Tensor,
    t: AlphaSigma,
    s0: AlphaSigma,
    m0: Tensor,
    hPhi1: number,
    bh: number,
    corrections: Array<readonly [number, Tensor]>,
  ): Tensor {
    const scale = this.predictX0 ? t.alpha : t.sigma;
    return linearCombination([
      [this.predictX0 ? t.sigma / s0.sigma : t.alpha / s0.alpha, x],
      [-scale * hPhi1, m0],
      ...corrections.map(([c, d]) => [-scale * bh * c, d] as const),
    ]);
  }

  /** The gaps D1_k = (m_k - m0) / r_k to earlier outputs, `k` = 1..order-1 back from `newest`. */
  private differences(i: number, s0: AlphaSigma, h: number, order: number, back: number) {
    const m0 = this.output(1);
    const rks: number[] = [];
    const d1s: Tensor[] = [];
    for (let k = 1; k < order; k++) {
      const mk = this.output(k + 1);
      const rk = (this.at(i - k - back).lambda - s0.lambda) / h;
      rks.push(rk);
      d1s.push(
        linearCombination([
          [1 / rk, mk],
          [-1 / rk, m0],
        ]),
      );
    }
    rks.push(1);
    return { m0, rks, d1s };
  }

  private predict(x: Tensor, i: number, order: number): Tensor {
    const t = this.at(i + 1);
    const s0 = this.at(i);
    const h = t.lambda - s0.lambda;
    const { m0, rks, d1s } = this.differences(i, s0, h, order, 0);
    const { hPhi1, bh, R, b } = this.coefficients(h, rks, order);
    let rhos: number[] = [];
    if (d1s.length > 0) {
      rhos =
        order === 2
          ? [0.5]
          : solveLinear(
              R.slice(0, -1).map((row) => row.slice(0, -1)),
              b.slice(0, -1),
            );
    }
    return this.combine(
      x,
      t,
      s0,
      m0,
      hPhi1,
      bh,
      d1s.map((d, k) => [rhos[k] as number, d] as const),
    );
  }

  private correct(modelT: Tensor, last: Tensor, _current: Tensor, i: number, order: number): Tensor {
    const t = this.at(i);
    const s0 = this.at(i - 1);
    const h = t.lambda - s0.lambda;
    const { m0, rks, d1s } = this.differences(i, s0, h, order, 1);
    const { hPhi1, bh, R, b } = this.coefficients(h, rks, order);
    const rhos = order === 1 ? [0.5] : solveLinear(R, b);
    const d1t = linearCombination([
      [1, modelT],
      [-1, m0],
    ]);
    return this.combine(last, t, s0, m0, hPhi1, bh, [
      ...d1s.map((d, k) => [rhos[k] as number, d] as const),
      [rhos[rhos.length - 1] as number, d1t],
    ]);
  }
}

/** A list of step indices (`disable_corrector`). */
function readStepList(config: SchedulerConfig, key: string): number[] {
  const value = config[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v): v is number => Number.isInteger(v))) {
    throw configError(key, 'must be a list of step indices (whole numbers)');
  }
  return value;
}
