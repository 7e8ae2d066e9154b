import {
  type AlphaSigma,
  alphaSigmaLambda,
  dataPrediction,
  noiseAtAlphaSigma,
  noiseFromData,
} from './alpha-sigma.ts';
import { multistepSchedule, trainingSchedule } from './multistep-schedule.ts';
import { readNoiseSchedule } from './noise-schedule.ts';
import {
  limitX0,
  type PredictionType,
  readPredictionType,
  readX0Limits,
  type X0Limits,
} from './prediction.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import {
  readBoolean,
  readChoice,
  readNumber,
  rejectFlowMatching,
  type SchedulerConfig,
} from './scheduler-config.ts';
import { assertInferenceSteps, misuse } from './scheduler-misuse.ts';
import { readSigmaSpacing, type SigmaSpacing } from './sigma-spacing.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';
import { linearCombination } from './tensor-math.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;

/**
 * Port of diffusers' `DEISMultistepScheduler` (Zhang & Chen 2022, DEIS with the log-rho
 * polynomial extrapolation): an exponential integrator on the noise prediction whose multistep
 * weights integrate the Lagrange polynomial through the previous outputs in log rho, rho = sigma/alpha.
 */
export class DeisMultistepScheduler implements Scheduler {
  readonly className = 'DEISMultistepScheduler';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  readonly numTrainTimesteps: number;
  private readonly alphasCumprod: Float64Array;
  private readonly predictionType: PredictionType;
  private readonly limits: X0Limits;
  private readonly solverOrder: number;
  private readonly lowerOrderFinal: boolean;
  private readonly sigmaSpacing: SigmaSpacing;
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private readonly index = new StepIndex('DEISMultistepScheduler');
  private schedule: number[];
  sigmas: number[];
  private modelOutputs: Array<Tensor | undefined> = [];
  private lowerOrderNums = 0;

  constructor(config: SchedulerConfig) {
    const noise = readNoiseSchedule(config, {
      betaStart: 0.0001,
      betaEnd: 0.02,
      betaSchedule: 'linear',
      zeroSnr: false,
    });
    this.numTrainTimesteps = noise.numTrainTimesteps;
    this.alphasCumprod = noise.alphasCumprod;
    this.predictionType = readPredictionType(config);
    this.limits = { ...readX0Limits(config, false), clipSample: false };
    this.solverOrder = readNumber(config, 'solver_order', 2, { integer: true, min: 1, max: 3 });
    // As diffusers, a DPM-Solver or UniPC config's algorithm and solver type mean DEIS log-rho.
    readChoice(config, 'algorithm_type', ['deis', 'dpmsolver', 'dpmsolver++'], 'deis');
    readChoice(config, 'solver_type', ['logrho', 'midpoint', 'heun', 'bh1', 'bh2'], 'logrho');
    this.lowerOrderFinal = readBoolean(config, 'lower_order_final', true);
    this.sigmaSpacing = readSigmaSpacing(config, false);
    this.spacing = readChoice(config, 'timestep_spacing', TIMESTEP_SPACINGS, 'linspace');
    this.stepsOffset = readNumber(config, 'steps_offset', 0, { integer: true, min: 0 });
    rejectFlowMatching(config);
    ({ timesteps: this.schedule, sigmas: this.sigmas } = trainingSchedule(this.alphasCumprod));
  }

  get timesteps(): readonly number[] {
    return this.schedule;
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
    const a0 = this.alphasCumprod[0] as number;
    // DEIS never steps to sigma 0: the plain spacing ends on the first training sigma, the others repeat their last.
    const sigmaLast =
      this.sigmaSpacing.kind === 'interpolated'
        ? Math.sqrt((1 - a0) / a0)
        : (sigmas[sigmas.length - 1] as number);
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.schedule = timesteps;
    this.modelOutputs = Array.from({ length: this.solverOrder }, () => undefined);
    this.lowerOrderNums = 0;
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  scaleModelInput(sample: Tensor, _timestep: number): Tensor {
    return sample;
  }

  private at(i: number): AlphaSigma {
    const sigma = this.sigmas[i];
    if (sigma === undefined || i < 0) throw misuse(this.className, 'stepped outside the schedule');
    return alphaSigmaLambda(sigma);
  }

  private output(k: number): Tensor {
    const m = this.modelOutputs[this.modelOutputs.length - k];
    if (m === undefined) throw misuse(this.className, 'multistep update without previous model outputs');
    return m;
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: StepOptions = {}): StepResult {
    if (this.modelOutputs.length === 0) throw misuse(this.className, 'call setTimesteps before step');
    const i = this.index.resolve(this.schedule, timestep, 'last');
    const count = this.schedule.length;
    const lowerOrderFinal = i === count - 1 && this.lowerOrderFinal && count < 15;
    const lowerOrderSecond = i === count - 2 && this.lowerOrderFinal && count < 15;
    // DEIS integrates the noise prediction; thresholding, if any, acts on the x0 it implies.
    const at = this.at(i);
    const x0 = limitX0(dataPrediction(this.predictionType, modelOutput, sample, at), this.limits);
    const converted = noiseFromData(x0, sample, at);
    this.modelOutputs = [...this.modelOutputs.slice(1), converted];
    let prevSample: Tensor;
    if (this.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      const t = this.at(i + 1);
      const h = t.lambda - at.lambda;
      prevSample = linearCombination([
        [t.alpha / at.alpha, sample],
        [-t.sigma * (Math.exp(h) - 1), converted],
      ]);
    } else if (this.solverOrder === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
      prevSample = this.secondOrderUpdate(sample, i);
    } else {
      prevSample = this.thirdOrderUpdate(sample, i);
    }
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums += 1;
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

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    const i = addNoiseIndex(this.className, this.index, this.schedule, timestep);
    return noiseAtAlphaSigma(original, noise, this.at(i));
  }
}
