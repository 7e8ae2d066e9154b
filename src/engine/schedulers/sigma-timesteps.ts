import { npArange, npLinspace, trailingTimesteps } from './numpy-ranges.ts';
import type { TimestepSpacing } from './timestep-spacing.ts';

/**
 * Fractional timesteps, highest first, as Euler-family schedulers space them (diffusers keeps them as
 * float32; `linspace` ones are not rounded).
 */
export function spacedFloatTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  n: number,
  stepsOffset: number,
): number[] {
  const f32 = Math.fround;
  if (spacing === 'linspace')
    return npLinspace(0, numTrainTimesteps - 1, n)
      .map(f32)
      .reverse();
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrainTimesteps / n);
    return npArange(0, n, 1)
      .map((i) => i * ratio + stepsOffset)
      .reverse();
  }
  return trailingTimesteps(numTrainTimesteps, n);
}
