import { discreteSigmaSchedule } from './discrete-sigma-schedule.ts';
import {
  initNoiseSigmaOf,
  inputScaleAtSigma,
  noiseAtSigma,
  readSigmaSchedulerBase,
  type SigmaSchedulerBase,
  x0AtSigma,
} from './euler-discrete-scheduler.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import type { SchedulerConfig } from './scheduler-config.ts';
import { assertInferenceSteps, misuse } from './scheduler-misuse.ts';
import { readSigmaSpacing, type SigmaSpacing } from './sigma-spacing.ts';
import { trainingSigmas } from './sigmas.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import type { Tensor } from './tensor.ts';

const f32 = Math.fround;

/** diffusers' LMS step order (the `order` argument of `step`, which pipelines leave at 4). */
const LMS_ORDER = 4;

/** 4-point Gauss-Legendre nodes and weights on [-1, 1]: exact for polynomials up to degree 7. */
const GAUSS_NODES = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
const GAUSS_WEIGHTS = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];

/**
 * The integral from `from` to `to` of the Lagrange basis polynomial that is 1 at `nodes[j]` and 0 at
 * the other nodes. diffusers integrates it with scipy's `quad`; the polynomial has degree < 4, so
 * Gauss-Legendre with four points gives the exact value.
 */
function lagrangeIntegral(nodes: readonly number[], j: number, from: number, to: number): number {
  const half = (to - from) / 2;
  const mid = (to + from) / 2;
  let total = 0;
  for (let g = 0; g < GAUSS_NODES.length; g++) {
    const tau = mid + half * (GAUSS_NODES[g] as number);
    let basis = 1;
    for (let k = 0; k < nodes.length; k++) {
      if (k !== j) basis *= (tau - (nodes[k] as number)) / ((nodes[j] as number) - (nodes[k] as number));
    }
    total += (GAUSS_WEIGHTS[g] as number) * basis;
  }
  return total * half;
}

/**
 * Port of diffusers' `LMSDiscreteScheduler` (k-diffusion's `sample_lms`): a linear multistep method
 * on the probability-flow ODE in sigma, combining the derivatives of up to four previous steps with
 * weights integrated from their Lagrange polynomial.
 */
export class LmsDiscreteScheduler implements Scheduler {
  readonly className = 'LMSDiscreteScheduler';
  readonly order = 1;
  readonly stochastic = false;
  readonly numTrainTimesteps: number;
  private readonly base: SigmaSchedulerBase;
  private readonly spacing: SigmaSpacing;
  private readonly index = new StepIndex('LMSDiscreteScheduler');
  private schedule: number[];
  /** The derivatives of the last steps, oldest first (at most LMS_ORDER). */
  private derivatives: Float32Array[] = [];
  sigmas: number[];

  constructor(config: SchedulerConfig) {
    this.base = readSigmaSchedulerBase(config, {
      betaStart: 0.0001,
      betaEnd: 0.02,
      betaSchedule: 'linear',
      zeroSnr: false,
    });
    this.numTrainTimesteps = this.base.numTrainTimesteps;
    this.spacing = readSigmaSpacing(config, false);
    this.sigmas = [...Array.from(trainingSigmas(this.base.alphasCumprod)).reverse(), 0];
    this.schedule = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  get initNoiseSigma(): number {
    return initNoiseSigmaOf(this.sigmas, this.base.spacing);
  }

  setTimesteps(numInferenceSteps: number): void {
    assertInferenceSteps(this.className, numInferenceSteps, this.numTrainTimesteps);
    const { timesteps, sigmas } = discreteSigmaSchedule(this.base, this.spacing, numInferenceSteps);
    this.sigmas = [...sigmas, 0].map(f32);
    this.schedule = timesteps.map(f32);
    this.derivatives = [];
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  modelInputScale(timestep: number): number {
    return inputScaleAtSigma(this.sigmas[this.index.resolve(this.schedule, timestep)] as number);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: StepOptions = {}): StepResult {
    const i = this.index.resolve(this.schedule, timestep);
    const sigma = this.sigmas[i] as number;
    const sigmaNext = this.sigmas[i + 1];
    if (sigmaNext === undefined) throw misuse(this.className, 'stepped past the last timestep');
    const x0 = x0AtSigma(this.base.predictionType, modelOutput, sample, sigma);
    const n = sample.data.length;
    const derivative = new Float32Array(n);
    for (let k = 0; k < n; k++) derivative[k] = ((sample.data[k] as number) - (x0.data[k] as number)) / sigma;
    this.derivatives.push(derivative);
    if (this.derivatives.length > LMS_ORDER) this.derivatives.shift();
    // As diffusers: the order follows the step index, not how many derivatives are stored, so an
    // img2img loop starting part way weights its first derivative by a higher-order coefficient.
    const order = Math.min(i + 1, LMS_ORDER);
    const nodes = Array.from({ length: order }, (_, k) => this.sigmas[i - k] as number);
    const used = Math.min(order, this.derivatives.length);
    const coefficients = Array.from({ length: used }, (_, j) => lagrangeIntegral(nodes, j, sigma, sigmaNext));
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      let x = sample.data[k] as number;
      for (let j = 0; j < used; j++) {
        x +=
          (coefficients[j] as number) *
          ((this.derivatives[this.derivatives.length - 1 - j] as Float32Array)[k] as number);
      }
      out[k] = x;
    }
    this.index.advance();
    return { prevSample: { data: out, dims: [...sample.dims] }, predOriginalSample: x0 };
  }

  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    return noiseAtSigma(
      original,
      noise,
      this.sigmas[addNoiseIndex(this.className, this.index, this.schedule, timestep)],
    );
  }
}
