import { config as loadDotenv } from 'dotenv';
import { CodedError } from '../errors/coded-error.ts';
import { type Config, configSchema, missingPlatformVariables } from './schema.ts';

/**
 * Validates an environment into a typed `Config`. Every bad or missing variable is named in one
 * error, with what was expected, so an operator fixes them all in one go.
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  const missing = missingPlatformVariables(env);
  if (result.success && missing.length === 0) return result.data;
  const lines = [
    ...(result.success ? [] : result.error.issues).map((issue) => {
      const name = issue.path.join('.') || '(configuration)';
      return `  ${name}: ${issue.message}`;
    }),
    ...missing.map((m) => `  ${m.name}: ${m.message}`),
  ];
  throw new CodedError('config-invalid', `Invalid configuration:\n${lines.join('\n')}`);
}

/** Reads `.env` (when present; real environment variables win) and validates it. */
export function loadConfig(options: { envFile?: string } = {}): Config {
  loadDotenv({ path: options.envFile ?? '.env', quiet: true });
  return parseConfig(process.env);
}
