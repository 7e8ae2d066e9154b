import { type AlphaSigma, alphaSigmaLambda, noiseAtAlphaSigma } from './alpha-sigma.ts';
import { trainingSchedule } from './multistep-schedule.ts';
import { readNoiseSchedule } from './noise-schedule.ts';
import { type PredictionType, readPredictionType, readX0Limits, type X0Limits } from './prediction.ts';
import { readBoolean, readNumber, type SchedulerConfig } from './scheduler-config.ts';
import { misuse } from './scheduler-misuse.ts';
import { readSigmaSpacing, type SigmaSpacing } from './sigma-spacing.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';

/**
 * What the alpha-sigma solvers (DPM-Solver multistep and singlestep, UniPC, DEIS) share: their
 * config's noise schedule, prediction type, x0 limits, solver order and sigma spacing, read the same
 * way; the converted model outputs they keep between steps; and the (alpha, sigma, lambda) of a step.
 */
export interface SolverBase {
  numTrainTimesteps: number;
  alphasCumprod: Float64Array;
  predictionType: PredictionType;
  limits: X0Limits;
  solverOrder: number;
  sigmaSpacing: SigmaSpacing;
}

export interface SolverBaseOptions {
  /**
   * `rescale_betas_zero_snr`: `last-alpha` as diffusers' DPM-Solver multistep and UniPC (the last
   * alpha_cumprod set to 2^-24), `refuse` where the ported class has no such option.
   */
  zeroSnr: 'last-alpha' | 'refuse';
  /** Whether the config's sigma_min / sigma_max bound the Karras spacing (readSigmaSpacing). */
  karrasRange: boolean;
}

export function readSolverBase(config: SchedulerConfig, options: SolverBaseOptions): SolverBase {
  const noise = readNoiseSchedule(config, {
    betaStart: 0.0001,
    betaEnd: 0.02,
    betaSchedule: 'linear',
    ...(options.zeroSnr === 'refuse' ? { zeroSnr: false } : {}),
  });
  let { alphasCumprod } = noise;
  // On a copy: the schedule's arrays are shared.
  if (options.zeroSnr === 'last-alpha' && readBoolean(config, 'rescale_betas_zero_snr', false)) {
    alphasCumprod = alphasCumprod.slice();
    alphasCumprod[noise.numTrainTimesteps - 1] = 2 ** -24;
  }
  return {
    numTrainTimesteps: noise.numTrainTimesteps,
    alphasCumprod,
    predictionType: readPredictionType(config),
    // Thresholding acts on x0; these solvers never clip the sample itself.
    limits: { ...readX0Limits(config, false), clipSample: false },
    solverOrder: readNumber(config, 'solver_order', 2, { integer: true, min: 1, max: 3 }),
    sigmaSpacing: readSigmaSpacing(config, options.karrasRange),
  };
}

/**
 * The part of an alpha-sigma solver that does not depend on its update rule: the shared config, the
 * training schedule until setTimesteps, the step index, the kept outputs, and the parameterisation
 * (these solvers work on the unscaled sample; a step's noise level is its alpha, sigma, lambda).
 */
export abstract class AlphaSigmaSolver {
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly numTrainTimesteps: number;
  protected readonly alphasCumprod: Float64Array;
  protected readonly predictionType: PredictionType;
  protected readonly limits: X0Limits;
  protected readonly solverOrder: number;
  protected readonly sigmaSpacing: SigmaSpacing;
  protected readonly index: StepIndex;
  protected readonly history: SolverHistory;
  protected schedule: number[];
  /** One more than `timesteps`: the noise level after the last step. */
  sigmas: number[];

  protected constructor(
    readonly className: string,
    config: SchedulerConfig,
    options: SolverBaseOptions,
  ) {
    const base = readSolverBase(config, options);
    this.numTrainTimesteps = base.numTrainTimesteps;
    this.alphasCumprod = base.alphasCumprod;
    this.predictionType = base.predictionType;
    this.limits = base.limits;
    this.solverOrder = base.solverOrder;
    this.sigmaSpacing = base.sigmaSpacing;
    this.index = new StepIndex(className);
    this.history = new SolverHistory(className);
    ({ timesteps: this.schedule, sigmas: this.sigmas } = trainingSchedule(this.alphasCumprod));
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  modelInputScale(_timestep: number): number {
    return 1;
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return noiseAtAlphaSigma(
      original,
      noise,
      this.at(addNoiseIndex(this.className, this.index, this.schedule, timestep)),
    );
  }

  /** The (alpha, sigma, lambda) of step i; stepping outside the schedule is a misuse. */
  protected at(i: number): AlphaSigma {
    const sigma = this.sigmas[i];
    if (sigma === undefined || i < 0) throw misuse(this.className, 'stepped outside the schedule');
    return alphaSigmaLambda(sigma);
  }

  /** The k-th newest converted model output (1: this step's). */
  protected output(k: number): Tensor {
    return this.history.output(k);
  }
}

/**
 * The first training sigma, sqrt((1 - a0) / a0): where diffusers' `final_sigmas_type="sigma_min"`
 * ends the plain spacing; the redistributed spacings (Karras, exponential, beta) end on their own
 * last sigma instead.
 */
export function sigmaMinEnd(alphasCumprod: Float64Array, spacing: SigmaSpacing, sigmas: number[]): number {
  const a0 = alphasCumprod[0] as number;
  return spacing.kind === 'interpolated' ? Math.sqrt((1 - a0) / a0) : (sigmas[sigmas.length - 1] as number);
}

/**
 * The converted model outputs a solver keeps between steps: the last `order` of them, newest last
 * (diffusers' `model_outputs`), and how many steps have filled them (its `lower_order_nums`).
 */
export class SolverHistory {
  private outputs: Array<Tensor | undefined> = [];
  private filledSteps = 0;

  constructor(private readonly className: string) {}

  /** Empties it for a new schedule (setTimesteps). */
  reset(order: number): void {
    this.outputs = Array.from({ length: order }, () => undefined);
    this.filledSteps = 0;
  }

  /** Before a step: a solver whose schedule was never set cannot step. */
  assertScheduled(): void {
    if (this.outputs.length === 0) throw misuse(this.className, 'call setTimesteps before step');
  }

  push(output: Tensor): void {
    this.outputs = [...this.outputs.slice(1), output];
  }

  /** The k-th newest output (1: the one just pushed). */
  output(k: number): Tensor {
    const m = this.outputs[this.outputs.length - k];
    if (m === undefined) throw misuse(this.className, 'multistep update without previous model outputs');
    return m;
  }

  has(k: number): boolean {
    return this.outputs[this.outputs.length - k] !== undefined;
  }

  /** Steps taken since reset, up to the order. */
  get filled(): number {
    return this.filledSteps;
  }

  /** After a step (diffusers: `lower_order_nums += 1` while below the order). */
  stepDone(): void {
    if (this.filledSteps < this.outputs.length) this.filledSteps += 1;
  }
}
