import { npArange, npLinspace, roundHalfEven } from './numpy-ranges.ts';
import { type SigmaSpacing, spaceSigmas } from './sigma-spacing.ts';
import { interpAtIndex, logSigmasOf, sigmaToTimestep, trainingSigmas } from './sigmas.ts';
import type { TimestepSpacing } from './timestep-spacing.ts';

export interface MultistepScheduleInput {
  alphasCumprod: Float64Array;
  spacing: TimestepSpacing;
  stepsOffset: number;
  /** One past the highest usable training timestep (below num_train_timesteps when lambda is clipped). */
  lastTimestep: number;
  sigmaSpacing: SigmaSpacing;
  /** Karras timesteps are rounded (np.round) before the int64 cast; DPM-Solver skips that for cosine betas. */
  roundKarras: boolean;
}

/**
 * The `set_timesteps` of diffusers' multistep solvers (DPM-Solver, UniPC, DEIS, DPM-Solver
 * singlestep): `n` integer timesteps spaced from `n + 1` points with the last dropped (`linspace`,
 * `leading`) or trailing, and the training sigmas at them; or, for the Karras, exponential and beta
 * spacings, sigmas redistributed over the whole training range with their timesteps mapped back and
 * cast to int64 (truncated) as diffusers does. Returns the sigmas without the final one, which each
 * scheduler chooses.
 */
export function multistepSchedule(
  input: MultistepScheduleInput,
  n: number,
): { timesteps: number[]; sigmas: number[] } {
  const { alphasCumprod, lastTimestep } = input;
  const numTrainTimesteps = alphasCumprod.length;
  let timesteps: number[];
  if (input.spacing === 'linspace') {
    timesteps = npLinspace(0, lastTimestep - 1, n + 1)
      .map(roundHalfEven)
      .reverse()
      .slice(0, n);
  } else if (input.spacing === 'leading') {
    const ratio = Math.floor(lastTimestep / (n + 1));
    timesteps = npArange(0, n + 1, 1)
      .map((i) => i * ratio + input.stepsOffset)
      .reverse()
      .slice(0, n);
  } else {
    timesteps = npArange(lastTimestep, 0, -numTrainTimesteps / n)
      .slice(0, n)
      .map((t) => roundHalfEven(t) - 1);
  }
  const train = trainingSigmas(alphasCumprod);
  if (input.sigmaSpacing.kind === 'interpolated') {
    return { timesteps, sigmas: timesteps.map((t) => interpAtIndex(t, train)) };
  }
  const logSigmas = logSigmasOf(train);
  const sigmas = spaceSigmas(input.sigmaSpacing, Array.from(train).reverse(), n);
  const round = input.sigmaSpacing.kind === 'karras' && input.roundKarras;
  return {
    timesteps: sigmas.map((s) => {
      const t = sigmaToTimestep(s, logSigmas);
      return round ? roundHalfEven(t) : Math.trunc(t);
    }),
    sigmas,
  };
}

/** Before `setTimesteps`: every training timestep, highest first, and its sigma, ending on 0 (as diffusers). */
export function trainingSchedule(alphasCumprod: Float64Array): { timesteps: number[]; sigmas: number[] } {
  const n = alphasCumprod.length;
  return {
    timesteps: Array.from({ length: n }, (_, i) => n - 1 - i),
    sigmas: [...Array.from(trainingSigmas(alphasCumprod)).reverse(), 0],
  };
}
