import { flowEulerNoiseInto } from '../kernels/kernels.ts';
import { npLinspace } from './numpy-ranges.ts';
import { type Scheduler, type StepOptions, type StepResult, withLazyX0 } from './scheduler.ts';
import {
  configError,
  readBoolean,
  readChoice,
  readNumber,
  readOptionalNumber,
  rejectEnabled,
  type SchedulerConfig,
} from './scheduler-config.ts';
import { assertInferenceSteps, misuse, requireNoise } from './scheduler-misuse.ts';
import { readSigmaSpacing, type SigmaSpacing, spaceSigmas } from './sigma-spacing.ts';
import { addNoiseIndex, StepIndex } from './step-index.ts';
import { assertSameShape, type Tensor } from './tensor.ts';
import { likeShape, linearCombination } from './tensor-math.ts';

const f32 = Math.fround;

/** What a flow-matching schedule may depend on besides the config: the image being made. */
export interface FlowMatchContext {
  /**
   * The transformer's token count for this image, (latent height / patch) * (latent width / patch):
   * a config with `use_dynamic_shifting` derives its shift (mu) from it, as SD3's pipeline does.
   */
  imageSeqLen?: number;
  /** The shift exponent itself, when the caller has one (diffusers' `mu` argument); wins over imageSeqLen. */
  mu?: number;
}

/**
 * diffusers' `calculate_shift` (pipeline_stable_diffusion_3.py, copied from Flux): mu grows linearly
 * with the image's sequence length from `base_shift` at `base_image_seq_len` to `max_shift` at
 * `max_image_seq_len`, so larger images spend more steps at high noise.
 */
export function resolutionShift(
  imageSeqLen: number,
  baseSeqLen: number,
  maxSeqLen: number,
  baseShift: number,
  maxShift: number,
): number {
  const m = (maxShift - baseShift) / (maxSeqLen - baseSeqLen);
  const b = baseShift - m * baseSeqLen;
  return imageSeqLen * m + b;
}

/**
 * Port of diffusers' `FlowMatchEulerDiscreteScheduler` (rectified flow, Stable Diffusion 3/3.5):
 * the sample moves on the straight line x_sigma = (1 - sigma) * x0 + sigma * noise, the model predicts
 * the velocity (noise - x0), and each step is an Euler step in sigma. Timesteps are sigma * 1000 (the
 * transformer's conditioning), sigmas run from 1 (pure noise) to 0 and are exposed with the terminal 0.
 */
export class FlowMatchEulerDiscreteScheduler implements Scheduler {
  readonly className = 'FlowMatchEulerDiscreteScheduler';
  readonly order = 1;
  /** Flow matching starts from unit-variance noise: the pipeline does not scale it. */
  readonly initNoiseSigma = 1;
  readonly stochastic: boolean;
  readonly numTrainTimesteps: number;
  readonly shift: number;
  private readonly dynamicShifting: boolean;
  private readonly baseShift: number;
  private readonly maxShift: number;
  private readonly baseImageSeqLen: number;
  private readonly maxImageSeqLen: number;
  private readonly shiftTerminal: number | undefined;
  private readonly timeShiftType: 'exponential' | 'linear';
  private readonly spacing: SigmaSpacing;
  private readonly sigmaMin: number;
  private readonly sigmaMax: number;
  private readonly index = new StepIndex('FlowMatchEulerDiscreteScheduler');
  private schedule: number[];
  /** One more than `timesteps`: the noise level after the last step (0). */
  sigmas: number[];

  constructor(
    config: SchedulerConfig,
    private readonly context: FlowMatchContext = {},
  ) {
    this.numTrainTimesteps = readNumber(config, 'num_train_timesteps', 1000, { integer: true, min: 1 });
    this.shift = readNumber(config, 'shift', 1, { min: 0, exclusiveMin: true });
    this.dynamicShifting = readBoolean(config, 'use_dynamic_shifting', false);
    this.baseShift = readNumber(config, 'base_shift', 0.5);
    this.maxShift = readNumber(config, 'max_shift', 1.15);
    this.baseImageSeqLen = readNumber(config, 'base_image_seq_len', 256, { integer: true, min: 1 });
    this.maxImageSeqLen = readNumber(config, 'max_image_seq_len', 4096, { integer: true, min: 1 });
    if (this.dynamicShifting && this.maxImageSeqLen === this.baseImageSeqLen) {
      throw configError('max_image_seq_len', `must differ from base_image_seq_len (${this.baseImageSeqLen})`);
    }
    this.shiftTerminal = readOptionalNumber(config, 'shift_terminal');
    if (this.shiftTerminal !== undefined && !(this.shiftTerminal > 0 && this.shiftTerminal < 1)) {
      throw configError('shift_terminal', `must be between 0 and 1 (exclusive), got ${this.shiftTerminal}`);
    }
    this.timeShiftType = readChoice(config, 'time_shift_type', ['exponential', 'linear'], 'exponential');
    // Mochi's inverted schedule runs sigmas from 0 up; no image family easel renders uses it.
    rejectEnabled(config, 'invert_sigmas', 'only image models with sigmas from 1 down to 0 are ported');
    this.stochastic = readBoolean(config, 'stochastic_sampling', false);
    this.spacing = readSigmaSpacing(config, false);
    if (this.dynamicShifting) this.resolveMu();

    // The training schedule, in float32 as diffusers' constructor computes it with torch.
    const T = this.numTrainTimesteps;
    const trainSigmas = Array.from({ length: T }, (_, i) => f32((T - i) / T));
    const shifted = this.dynamicShifting ? trainSigmas : trainSigmas.map((s) => this.staticShift32(s));
    this.sigmas = [...shifted];
    this.schedule = shifted.map((s) => f32(s * T));
    this.sigmaMax = shifted[0] as number;
    this.sigmaMin = shifted[T - 1] as number;
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /** diffusers' static shift in float32 (the constructor's torch arithmetic). */
  private staticShift32(sigma: number): number {
    const s = f32(this.shift);
    return f32(f32(s * sigma) / f32(1 + f32(f32(s - 1) * sigma)));
  }

  /** The mu a dynamically shifted schedule needs: given, or derived from the image's sequence length. */
  private resolveMu(): number {
    if (this.context.mu !== undefined) return this.context.mu;
    const seqLen = this.context.imageSeqLen;
    if (seqLen === undefined) {
      throw configError(
        'use_dynamic_shifting',
        'needs the image size to resolve its shift (mu); the pipeline must pass the image sequence length',
      );
    }
    return resolutionShift(seqLen, this.baseImageSeqLen, this.maxImageSeqLen, this.baseShift, this.maxShift);
  }

  private timeShift(mu: number, sigma: number): number {
    // diffusers' time_shift with its sigma exponent fixed at 1.0 (as set_timesteps calls it).
    const scale = this.timeShiftType === 'exponential' ? Math.exp(mu) : mu;
    return scale / (scale + (1 / sigma - 1));
  }

  setTimesteps(numInferenceSteps: number): void {
    const T = this.numTrainTimesteps;
    assertInferenceSteps(this.className, numInferenceSteps, T);
    // diffusers: np.linspace(sigma_max * T, sigma_min * T, n) / T, then the shift, in float64.
    let sigmas = npLinspace(this.sigmaMax * T, this.sigmaMin * T, numInferenceSteps).map((t) => t / T);
    if (this.dynamicShifting) {
      const mu = this.resolveMu();
      sigmas = sigmas.map((s) => this.timeShift(mu, s));
    } else {
      sigmas = sigmas.map((s) => (this.shift * s) / (1 + (this.shift - 1) * s));
    }
    const terminal = this.shiftTerminal;
    if (terminal !== undefined) {
      // Stretch so the last sigma lands on shift_terminal (LTX-Video's rf.py, as diffusers cites).
      const scaleFactor = (1 - (sigmas[sigmas.length - 1] as number)) / (1 - terminal);
      sigmas = sigmas.map((s) => 1 - (1 - s) / scaleFactor);
    }
    sigmas = spaceSigmas(this.spacing, sigmas, numInferenceSteps);
    const sigmas32 = sigmas.map(f32);
    this.schedule = sigmas32.map((s) => f32(s * T));
    this.sigmas = [...sigmas32, 0];
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBegin(index);
  }

  /** Flow-matching transformers take the sample as it is. */
  modelInputScale(_timestep: number): number {
    return 1;
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): StepResult {
    const i = this.index.resolve(this.schedule, timestep);
    const sigma = this.sigmas[i] as number;
    const next = this.sigmas[i + 1];
    if (next === undefined) throw misuse(this.className, 'stepped past the last timestep');
    const noise = this.stochastic
      ? likeShape(sample, requireNoise(this.className, options.noise)(), this.className).data
      : undefined;
    const result = flowEulerStep(sample, modelOutput, sigma, next, noise, options.into);
    this.index.advance();
    return result;
  }

  /**
   * diffusers' `scale_noise`, flow matching's forward process: sigma * noise + (1 - sigma) * sample at
   * the timestep's sigma (img2img before the loop, inpainting's re-noising during it).
   */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    const sigma = this.sigmas[addNoiseIndex(this.className, this.index, this.schedule, timestep)];
    if (sigma === undefined) throw misuse(this.className, `no sigma for timestep ${timestep}`);
    return linearCombination([
      [sigma, noise],
      [f32(1 - sigma), original],
    ]);
  }
}

/**
 * One step in a single pass (a 1024 px SD3 latent is 262,144 values) along the predicted velocity v,
 * whose clean sample is x0 = x - sigma * v on the straight line: either the Euler step
 * x + (sigmaNext - sigma) * v or, with `noise` (stochastic sampling), the line re-entered at
 * sigmaNext: (1 - sigmaNext) * x0 + sigmaNext * noise. x0 itself is computed only if it is read.
 */
function flowEulerStep(
  sample: Tensor,
  velocity: Tensor,
  sigma: number,
  sigmaNext: number,
  noise: Float32Array | undefined,
  into: Float32Array | undefined,
): StepResult {
  assertSameShape(sample, velocity, 'FlowMatchEulerDiscreteScheduler.step');
  const x0 = () =>
    linearCombination([
      [1, sample],
      [-sigma, velocity],
    ]);
  if (noise === undefined) {
    return withLazyX0(
      linearCombination(
        [
          [1, sample],
          [f32(sigmaNext - sigma), velocity],
        ],
        into,
      ),
      x0,
    );
  }
  const next = into ?? new Float32Array(sample.data.length);
  flowEulerNoiseInto(next, sample.data, velocity.data, noise, { sigma, keep: f32(1 - sigmaNext), sigmaNext });
  return withLazyX0({ data: next, dims: [...sample.dims] }, x0);
}
