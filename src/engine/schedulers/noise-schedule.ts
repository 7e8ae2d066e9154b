import {
  configError,
  readBoolean,
  readChoice,
  readNumber,
  readNumberArray,
  rejectEnabled,
  type SchedulerConfig,
} from './scheduler-config.ts';

/**
 * The training noise schedule (betas and their cumulative alpha products), as diffusers builds it.
 * diffusers computes these as float32 torch tensors, so every value here is rounded to float32
 * (`Math.fround`) at the points torch rounds; its CPU `cumprod` accumulates in float64 and stores
 * float32, and so does this.
 */
const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number] | 'exp';

export interface NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly betas: Float64Array;
  readonly alphasCumprod: Float64Array;
}

const f32 = Math.fround;

/** torch.linspace(start, end, n, dtype=float32): float32 step, filled from both ends toward the middle. */
function linspaceFloat32(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = f32(start);
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32((e - s) / (n - 1));
  const halfway = Math.floor(n / 2);
  for (let i = 0; i < n; i++) {
    out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (n - 1 - i)));
  }
  return out;
}

/** diffusers' `betas_for_alpha_bar` with the cosine ("squaredcos_cap_v2", Glide) transform, computed in float64. */
export function cosineBetas(n: number, maxBeta = 0.999): Float64Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = f32(Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta));
  }
  return out;
}

/** diffusers' `betas_for_alpha_bar` with the "exp" transform, alpha_bar(t) = exp(-12 t): one constant beta. */
function expBetas(n: number, maxBeta = 0.999): Float64Array {
  return new Float64Array(n).fill(f32(Math.min(1 - Math.exp(-12 / n), maxBeta)));
}

/** Cumulative product in float64, each prefix stored as float32 (torch's CPU cumprod on float32). */
function cumprodFloat32(values: Float64Array): Float64Array {
  const out = new Float64Array(values.length);
  let acc = 1;
  for (let i = 0; i < values.length; i++) {
    acc *= values[i] as number;
    out[i] = f32(acc);
  }
  return out;
}

function alphasOf(betas: Float64Array): Float64Array {
  return betas.map((b) => f32(1 - b));
}

/**
 * diffusers' `rescale_zero_terminal_snr` (Lin et al. 2023, Algorithm 1): shifts and scales
 * sqrt(alphas_cumprod) so the last timestep has zero signal, keeping the first unchanged.
 */
function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const barSqrt = cumprodFloat32(alphasOf(betas)).map((a) => f32(Math.sqrt(a)));
  const first = barSqrt[0] as number;
  const last = barSqrt[barSqrt.length - 1] as number;
  const factor = f32(first / f32(first - last));
  const bar = barSqrt.map((v) => {
    const shifted = f32(f32(v - last) * factor);
    return f32(shifted * shifted);
  });
  const out = new Float64Array(betas.length);
  for (let i = 0; i < bar.length; i++) {
    const alpha = i === 0 ? (bar[0] as number) : f32((bar[i] as number) / (bar[i - 1] as number));
    out[i] = f32(1 - alpha);
  }
  return out;
}

export interface NoiseScheduleDefaults {
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  /** The diffusers class also takes beta_schedule "exp" (only HeunDiscreteScheduler does). */
  exp?: boolean;
  /**
   * The diffusers class has `rescale_betas_zero_snr` (default true here). Where it has not, a config
   * asking for it is refused: sampling a zero-terminal-SNR model on the ordinary schedule is wrong.
   */
  zeroSnr?: boolean;
}

/**
 * Schedules already read, by config and defaults: a worker builds a scheduler for every render from
 * its model's one config, and the schedule's thousand-value arrays cost more than the render's
 * steps do on a small model. Bounded, as only a handful of configs are ever in use.
 */
const readSchedules = new Map<string, NoiseSchedule>();
const MAX_READ_SCHEDULES = 64;

/**
 * Reads `num_train_timesteps`, `beta_*`, `trained_betas` and `rescale_betas_zero_snr`. The arrays
 * are shared by every scheduler of the same config: copy before writing (as the zero-SNR paths do).
 */
export function readNoiseSchedule(config: SchedulerConfig, defaults: NoiseScheduleDefaults): NoiseSchedule {
  const key = JSON.stringify([config, defaults]);
  const known = readSchedules.get(key);
  if (known !== undefined) return known;
  const schedule = buildNoiseSchedule(config, defaults);
  if (readSchedules.size >= MAX_READ_SCHEDULES) readSchedules.clear();
  readSchedules.set(key, schedule);
  return schedule;
}

function buildNoiseSchedule(config: SchedulerConfig, defaults: NoiseScheduleDefaults): NoiseSchedule {
  const numTrainTimesteps = readNumber(config, 'num_train_timesteps', 1000, { integer: true, min: 2 });
  const trained = readNumberArray(config, 'trained_betas');
  let betas: Float64Array;
  if (trained !== undefined) {
    if (trained.length !== numTrainTimesteps) {
      throw configError(
        'trained_betas',
        `has ${trained.length} values but num_train_timesteps is ${numTrainTimesteps}`,
      );
    }
    betas = Float64Array.from(trained, f32);
  } else {
    const allowed: readonly BetaSchedule[] =
      defaults.exp === true ? [...BETA_SCHEDULES, 'exp'] : BETA_SCHEDULES;
    const schedule = readChoice(config, 'beta_schedule', allowed, defaults.betaSchedule);
    const betaStart = readNumber(config, 'beta_start', defaults.betaStart, {
      min: 0,
      exclusiveMin: true,
      max: 1,
    });
    const betaEnd = readNumber(config, 'beta_end', defaults.betaEnd, { min: 0, exclusiveMin: true, max: 1 });
    if (schedule === 'linear') {
      betas = linspaceFloat32(betaStart, betaEnd, numTrainTimesteps);
    } else if (schedule === 'scaled_linear') {
      // Latent diffusion's schedule: linear in sqrt(beta), squared in float32.
      betas = linspaceFloat32(Math.sqrt(betaStart), Math.sqrt(betaEnd), numTrainTimesteps).map((b) =>
        f32(b * b),
      );
    } else if (schedule === 'exp') {
      betas = expBetas(numTrainTimesteps);
    } else {
      betas = cosineBetas(numTrainTimesteps);
    }
  }
  if (defaults.zeroSnr === false) {
    rejectEnabled(
      config,
      'rescale_betas_zero_snr',
      'the diffusers scheduler it ports has no zero-terminal-SNR option',
    );
  } else if (readBoolean(config, 'rescale_betas_zero_snr', false)) {
    betas = rescaleZeroTerminalSnr(betas);
  }
  return { numTrainTimesteps, betas, alphasCumprod: cumprodFloat32(alphasOf(betas)) };
}
