/**
 * The numpy range functions diffusers builds its timestep schedules with, reproduced element for
 * element (same float64 formulas, same lengths, same rounding) so timesteps match exactly.
 */

/** `np.round`: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; numpy rounds it to the even neighbour.
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.linspace(start, stop, num, endpoint)`: `i * step + start`, last element exactly `stop` when endpoint. */
export function npLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  if (num <= 0) return [];
  const div = endpoint ? num - 1 : num;
  if (div === 0) return [start];
  const step = (stop - start) / div;
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  if (endpoint) out[num - 1] = stop;
  return out;
}

/** `np.arange(start, stop, step)` for floats: `ceil((stop - start) / step)` elements `start + i * step`. */
export function npArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  return Array.from({ length }, (_, i) => start + i * step);
}

/**
 * diffusers' "trailing" spacing: `round(np.arange(T, 0, -T / n)) - 1`, highest first. numpy's arange
 * yields one element too many for some `n` (1000 / 61, 1100 / 15, ...: the quotient rounds just above
 * `n`), which makes diffusers append timestep -1; easel keeps exactly `n`.
 */
export function trailingTimesteps(numTrainTimesteps: number, n: number, last = numTrainTimesteps): number[] {
  return npArange(last, 0, -numTrainTimesteps / n)
    .slice(0, n)
    .map((t) => roundHalfEven(t) - 1);
}
