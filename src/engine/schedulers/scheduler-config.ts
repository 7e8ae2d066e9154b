import { CodedError } from '../../errors/coded-error.ts';

/**
 * A parsed diffusers `scheduler_config.json`. Keys a scheduler does not know are ignored (configs carry
 * `_class_name`, `_diffusers_version` and the keys of whichever scheduler the model shipped with), and
 * a missing or `null` key takes the reading scheduler's own default — the same as diffusers'
 * `from_config`, which drops keys the source config only had by default (`_use_default_values`).
 */
export type SchedulerConfig = Readonly<Record<string, unknown>>;

const NON_FINITE: Record<string, number> = { '-Infinity': -Infinity, Infinity: Infinity, NaN: Number.NaN };
const NON_FINITE_MARK = '\u0000easel-non-finite:';

/**
 * Parses a `scheduler_config.json` as Python's `json` writes it: diffusers saves
 * `lambda_min_clipped = -inf` as a bare `-Infinity`, which `JSON.parse` rejects. Bare `Infinity`,
 * `-Infinity` and `NaN` outside strings become the numbers; anything else must be plain JSON.
 */
export function parseSchedulerConfigJson(text: string): SchedulerConfig {
  const marked = text.replace(/("(?:[^"\\]|\\.)*")|-?Infinity|NaN/g, (match, quoted: string | undefined) =>
    quoted !== undefined ? quoted : JSON.stringify(NON_FINITE_MARK + match),
  );
  const parsed: unknown = JSON.parse(marked, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(NON_FINITE_MARK)
      ? NON_FINITE[value.slice(NON_FINITE_MARK.length)]
      : value,
  );
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CodedError('model-invalid', 'scheduler_config.json must hold a JSON object');
  }
  return parsed as SchedulerConfig;
}

export function configError(key: string, message: string): CodedError {
  return new CodedError('model-invalid', `scheduler_config.json: "${key}" ${message}`);
}

function present(config: SchedulerConfig, key: string): unknown {
  const value = config[key];
  return value === null ? undefined : value;
}

export function readNumber(
  config: SchedulerConfig,
  key: string,
  fallback: number,
  range: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {},
): number {
  const value = present(config, key);
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw configError(key, `must be a finite number, got ${JSON.stringify(value)}`);
  }
  if (range.integer === true && !Number.isInteger(value))
    throw configError(key, `must be a whole number, got ${value}`);
  if (range.min !== undefined) {
    const below = range.exclusiveMin === true ? value <= range.min : value < range.min;
    if (below)
      throw configError(
        key,
        `must be ${range.exclusiveMin === true ? '>' : '>='} ${range.min}, got ${value}`,
      );
  }
  if (range.max !== undefined && value > range.max)
    throw configError(key, `must be <= ${range.max}, got ${value}`);
  return value;
}

export function readBoolean(config: SchedulerConfig, key: string, fallback: boolean): boolean {
  const value = present(config, key);
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw configError(key, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

export function readChoice<const T extends string>(
  config: SchedulerConfig,
  key: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = present(config, key);
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw configError(
      key,
      `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

/** An optional number (e.g. `sigma_min`): `undefined` when absent or null. */
export function readOptionalNumber(config: SchedulerConfig, key: string): number | undefined {
  const value = present(config, key);
  if (value === undefined) return undefined;
  return readNumber(config, key, 0);
}

export function readNumberArray(config: SchedulerConfig, key: string): number[] | undefined {
  const value = present(config, key);
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    !value.every((v): v is number => typeof v === 'number' && Number.isFinite(v))
  ) {
    throw configError(key, 'must be an array of finite numbers');
  }
  return value;
}

/** Rejects options this port does not implement instead of silently sampling differently. */
export function rejectEnabled(config: SchedulerConfig, key: string, why: string): void {
  const value = present(config, key);
  if (value !== undefined && value !== false) throw configError(key, `is not supported by easel (${why})`);
}

/**
 * diffusers' flow-matching options of the multistep solvers (SD3-style sigmas): not ported there;
 * flow-matching models sample with flow_euler (FlowMatchEulerDiscreteScheduler).
 */
export function rejectFlowMatching(config: SchedulerConfig): void {
  const why = 'the multistep solvers are not ported for flow-matching models; use flow_euler';
  rejectEnabled(config, 'use_flow_sigmas', why);
  rejectEnabled(config, 'use_dynamic_shifting', why);
}

/** A learned-variance UNet's `variance_type`: its extra output channels would be taken for noise. */
export function rejectLearnedVariance(config: SchedulerConfig): void {
  if (config.variance_type !== undefined && config.variance_type !== null) {
    throw configError(
      'variance_type',
      'is not supported by easel (models with learned variance are not ported)',
    );
  }
}
