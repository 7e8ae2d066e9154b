import { betaPpf } from './beta-distribution.ts';
import { npLinspace } from './numpy-ranges.ts';
import { configError, readBoolean, readOptionalNumber, type SchedulerConfig } from './scheduler-config.ts';
import { karrasSigmas } from './sigmas.ts';

/**
 * How a sigma scheduler spreads its inference noise levels: at the spaced timesteps (`interpolated`,
 * diffusers' default), or redistributed between sigma_max and sigma_min as Karras et al. 2022 (rho 7),
 * evenly in log sigma (`exponential`), or by the beta(0.6, 0.6) quantiles (`beta`, Lee et al. 2024).
 */
export type SigmaSpacingKind = 'interpolated' | 'karras' | 'exponential' | 'beta';

export interface SigmaSpacing {
  kind: SigmaSpacingKind;
  /** The configured ends, for schedulers whose diffusers class has `sigma_min` / `sigma_max`. */
  sigmaMin?: number;
  sigmaMax?: number;
}

const FLAGS = [
  ['use_karras_sigmas', 'karras'],
  ['use_exponential_sigmas', 'exponential'],
  ['use_beta_sigmas', 'beta'],
] as const;

/**
 * Reads `use_karras_sigmas`, `use_exponential_sigmas` and `use_beta_sigmas` (at most one, as diffusers
 * insists) and, where the diffusers class has them (`bounds`), `sigma_min` and `sigma_max`.
 */
export function readSigmaSpacing(config: SchedulerConfig, bounds: boolean): SigmaSpacing {
  const enabled = FLAGS.filter(([key]) => readBoolean(config, key, false));
  const [first, second] = enabled;
  if (first !== undefined && second !== undefined) {
    throw configError(
      first[0],
      `cannot be combined with "${second[0]}": use only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas`,
    );
  }
  const kind = first?.[1] ?? 'interpolated';
  if (!bounds) return { kind };
  return {
    kind,
    sigmaMin: readOptionalNumber(config, 'sigma_min'),
    sigmaMax: readOptionalNumber(config, 'sigma_max'),
  };
}

/**
 * diffusers' `_convert_to_karras` / `_convert_to_exponential` / `_convert_to_beta`: `n` sigmas from
 * sigma_max down to sigma_min, the ends defaulting to the first and last of `descending`.
 */
export function spaceSigmas(spacing: SigmaSpacing, descending: readonly number[], n: number): number[] {
  const sigmaMin = spacing.sigmaMin ?? (descending[descending.length - 1] as number);
  const sigmaMax = spacing.sigmaMax ?? (descending[0] as number);
  switch (spacing.kind) {
    case 'karras':
      return karrasSigmas(sigmaMin, sigmaMax, n);
    case 'exponential':
      return npLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp);
    case 'beta':
      return npLinspace(0, 1, n).map((r) => sigmaMin + betaPpf(1 - r, 0.6, 0.6) * (sigmaMax - sigmaMin));
    case 'interpolated':
      return [...descending];
  }
}
