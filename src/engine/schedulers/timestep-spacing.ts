/**
 * How inference timesteps are spread over the training range (Lin et al. 2023, table 2):
 * `linspace` includes both ends, `leading` starts at 0 (plus `steps_offset`), `trailing` ends at T-1.
 */
export const TIMESTEP_SPACINGS = ['linspace', 'leading', 'trailing'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];
