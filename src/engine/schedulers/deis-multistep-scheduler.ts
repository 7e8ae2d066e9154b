import { dataPrediction, noiseFromData } from './alpha-sigma.ts';
import { multistepSchedule } from './multistep-schedule.ts';
import { limitX0 } from './prediction.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import {
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
 * Port of diffusers' `DEISMultistepScheduler` (Zhang & Chen 2022, DEIS with the log-rho
 * polynomial extrapolation): an exponential integrator on the noise prediction whose multistep
 * weights integrate the Lagrange polynomial through the previous outputs in log rho, rho = sigma/alpha.
 */
export class DeisMultistepScheduler extends AlphaSigmaSolver implements Scheduler {
  readonly stochastic = false;
  private readonly lowerOrderFinal: boolean;
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;

  constructor(config: SchedulerConfig) {
    super('DEISMultistepScheduler', config, { zeroSnr: 'refuse', karrasRange: false });
    // As diffusers, a DPM-Solver or UniPC config's algorithm and solver type mean DEIS log-rho.
    readChoice(config, 'algorithm_type', ['deis', 'dpmsolver', 'dpmsolver++'], 'deis');
    readChoice(config, 'solver_type', ['logrho', 'midpoint', 'heun', 'bh1', 'bh2'], 'logrho');
    this.lowerOrderFinal = readBoolean(config, 'lower_order_final', true);
    this.spacing = readChoice(config, 'timestep_spacing', TIMESTEP_SPACINGS, 'linspace');
    this.stepsOffset = readNumber(config, 'steps_offset', 0, { integer: true, min: 0 });
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
    // DEIS never steps to sigma 0.
    this.sigmas = [...sigmas, sigmaMinEnd(this.alphasCumprod, this.sigmaSpacing, sigmas)].map(f32);
    this.schedule = timesteps;
    this.history.reset(this.solverOrder);
    this.index.reset();
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: StepOptions = {}): StepResult {
    this.history.assertScheduled();
    const i = this.index.resolve(this.schedule, timestep, 'last');
    const count = this.schedule.length;
    const lowerOrderFinal = i === count - 1 && this.lowerOrderFinal && count < 15;
    const lowerOrderSecond = i === count - 2 && this.lowerOrderFinal && count < 15;
    // DEIS integrates the noise prediction; thresholding, if any, acts on the x0 it implies.
    const at = this.at(i);
    const x0 = limitX0(dataPrediction(this.predictionType, modelOutput, sample, at), this.limits);
    const converted = noiseFromData(x0, sample, at);
    this.history.push(converted);
    let prevSample: Tensor;
    if (this.solverOrder === 1 || this.history.filled < 1 || lowerOrderFinal) {
      const t = this.at(i + 1);
      const h = t.lambda - at.lambda;
      prevSample = linearCombination([
        [t.alpha / at.alpha, sample],
        [-t.sigma * (Math.exp(h) - 1), converted],
      ]);
    } else if (this.solverOrder === 2 || this.history.filled < 2 || lowerOrderSecond) {
      prevSample = this.secondOrderUpdate(sample, i);
    } else {
      prevSample = this.thirdOrderUpdate(sample, i);
    }
    this.history.stepDone();
    this.index.advance();
    return { prevSample, predOriginalSample: x0 };
  }

  /** rho = sigma_t / alpha_t of step j. */
  private rho(j: number): number {
    const { alpha, sigma } = this.at(j);
    return sigma / alpha;
  }

  private secondOrderUpdate(sample: Tensor, i: number): Tensor {
    const alphaT = this.at(i + 1).alpha;
    const alphaS0 = this.at(i).alpha;
    const [rt, r0, r1] = [this.rho(i + 1), this.rho(i), this.rho(i - 1)];
    // The integral of the linear Lagrange basis in log rho, as diffusers' `ind_fn`.
    const ind = (t: number, b: number, c: number) =>
      (t * (-Math.log(c) + Math.log(t) - 1)) / (Math.log(b) - Math.log(c));
    const coef1 = ind(rt, r0, r1) - ind(r0, r0, r1);
    const coef2 = ind(rt, r1, r0) - ind(r0, r1, r0);
    return linearCombination([
      [alphaT / alphaS0, sample],
      [alphaT * coef1, this.output(1)],
      [alphaT * coef2, this.output(2)],
    ]);
  }

  private thirdOrderUpdate(sample: Tensor, i: number): Tensor {
    const alphaT = this.at(i + 1).alpha;
    const alphaS0 = this.at(i).alpha;
    const [rt, r0, r1, r2] = [this.rho(i + 1), this.rho(i), this.rho(i - 1), this.rho(i - 2)];
    // The integral of the quadratic Lagrange basis in log rho, as diffusers' third-order `ind_fn`.
    const ind = (t: number, b: number, c: number, d: number) => {
      const [lt, lb, lc, ld] = [Math.log(t), Math.log(b), Math.log(c), Math.log(d)];
      return (t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2)) / ((lb - lc) * (lb - ld));
    };
    const coef1 = ind(rt, r0, r1, r2) - ind(r0, r0, r1, r2);
    const coef2 = ind(rt, r1, r2, r0) - ind(r0, r1, r2, r0);
    const coef3 = ind(rt, r2, r0, r1) - ind(r0, r2, r0, r1);
    return linearCombination([
      [alphaT / alphaS0, sample],
      [alphaT * coef1, this.output(1)],
      [alphaT * coef2, this.output(2)],
      [alphaT * coef3, this.output(3)],
    ]);
  }
}
