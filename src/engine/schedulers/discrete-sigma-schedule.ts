import type { SigmaSchedulerBase } from './euler-discrete-scheduler.ts';
import { roundHalfEven } from './numpy-ranges.ts';
import { type SigmaSpacing, spaceSigmas } from './sigma-spacing.ts';
import { spacedFloatTimesteps } from './sigma-timesteps.ts';
import { interpAtIndex, logSigmasOf, sigmaToTimestep, trainingSigmas } from './sigmas.ts';

export interface DiscreteSigmaSchedule {
  /** Highest first, one per inference step (fractional for the redistributed spacings). */
  timesteps: number[];
  /** One per timestep, in float64 as numpy computes them (callers append the final sigma). */
  sigmas: number[];
  /** log of each training sigma, for mapping further sigmas back to timesteps. */
  logSigmas: Float64Array;
}

/**
 * The `set_timesteps` of diffusers' k-diffusion ports (Heun, LMS, KDPM2, KDPM2 ancestral): timesteps
 * spaced as `timestep_spacing` says, the training sigmas interpolated at them, and for the Karras,
 * exponential and beta spacings the sigmas redistributed between the interpolated ends with each
 * timestep mapped back from its sigma (`roundConverted`: KDPM2 rounds those for Karras).
 */
export function discreteSigmaSchedule(
  base: SigmaSchedulerBase,
  spacing: SigmaSpacing,
  n: number,
  roundConverted = false,
): DiscreteSigmaSchedule {
  const train = trainingSigmas(base.alphasCumprod);
  const logSigmas = logSigmasOf(train);
  let timesteps = spacedFloatTimesteps(base.spacing, base.numTrainTimesteps, n, base.stepsOffset);
  let sigmas = timesteps.map((t) => interpAtIndex(t, train));
  if (spacing.kind !== 'interpolated') {
    sigmas = spaceSigmas(spacing, sigmas, n);
    timesteps = sigmas.map((s) => sigmaToTimestep(s, logSigmas));
    if (roundConverted) timesteps = timesteps.map(roundHalfEven);
  }
  return { timesteps, sigmas, logSigmas };
}

/** torch's `cat([x[:1], x[1:].repeat_interleave(2)])`: every entry after the first twice, as second-order schedulers list them. */
export function repeatAfterFirst(values: readonly number[]): number[] {
  const out = values.slice(0, 1);
  for (const v of values.slice(1)) out.push(v, v);
  return out;
}
