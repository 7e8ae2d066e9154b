import { z } from 'zod';
import { parseArtifactsUrl } from '../artifacts/artifacts-url.ts';
import { parseClusterUrl } from '../redis/cluster-url.ts';

/**
 * Every environment variable easel reads, with its default. `.env.example` and the README's
 * configuration table list exactly these (a test keeps the three in step).
 */

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
      error: 'expected true or false',
    })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on');

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a whole number from ${min} to ${max}, got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    });

const num = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a number from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const url = (fallback: string, protocols: string[]) =>
  z
    .string()
    .default(fallback)
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      { message: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
    );

/** One server (redis://, rediss://) or a cluster (redis+cluster://host:port,...). */
function redisUrlProblem(value: string): string | undefined {
  try {
    if (parseClusterUrl(value) !== undefined) return undefined;
  } catch (error) {
    return (error as Error).message;
  }
  try {
    if (['redis:', 'rediss:'].includes(new URL(value).protocol)) return undefined;
  } catch {
    // reported below
  }
  return 'expected a URL starting with redis:// or rediss:// (or redis+cluster:// for a Redis Cluster)';
}

const optionalSecret = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );

export const ROLES = ['discord', 'slack', 'api', 'worker', 'deliver'] as const;
export type Role = (typeof ROLES)[number];

export const configSchema = z.object({
  // process
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  ROLES: list(ROLES.join(',')).refine(
    (roles) => roles.every((r) => (ROLES as readonly string[]).includes(r)),
    {
      message: `expected a comma-separated list of ${ROLES.join(', ')}`,
    },
  ),
  DATA_DIR: z.string().default('./data'),

  // redis / queue
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .superRefine((v, ctx) => {
      const problem = redisUrlProblem(v);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
  QUEUE_PREFIX: z
    .string()
    .default('{easel}')
    .refine((v) => /^\{[^{}]+\}$|^[A-Za-z0-9:_-]+$/.test(v), {
      message: 'expected a prefix such as {easel}',
    }),
  METRICS_PORT: int(9464, 0, 65535),

  // models and engine
  MODELS_DIR: z.string().default('./models'),
  DEFAULT_MODEL: z.string().default(''),
  EXECUTION_PROVIDERS: list('cpu').refine((p) => p.every((x) => ['cuda', 'webgpu', 'cpu'].includes(x)), {
    message: 'expected a comma-separated list of cuda, webgpu, cpu',
  }),
  ENGINE_THREADS: int(0, 0, 256),
  /** Memory (MB) for sessions of LoRA/embedding combinations, least recently used evicted first. */
  LORA_CACHE_MB: int(4096, 0, 1024 * 1024),
  NSFW_SCREENING: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  NSFW_THRESHOLD: num(0.5, 0, 1),
  NSFW_CLASSIFIER: z
    .enum(['nsfwjs-mobilenet-v2', 'none'], { error: 'expected nsfwjs-mobilenet-v2 or none' })
    .default('nsfwjs-mobilenet-v2'),
  NSFW_PORN_THRESHOLD: num(0.5, 0, 1),
  NSFW_HENTAI_THRESHOLD: num(0.5, 0, 1),
  NSFW_SEXY_THRESHOLD: num(0.8, 0, 1),
  UPSCALER: z
    .enum(['esrgan-slim', 'esrgan-medium', 'esrgan-thick', 'lanczos'], {
      error: 'expected esrgan-slim, esrgan-medium, esrgan-thick or lanczos',
    })
    .default('esrgan-slim'),
  WORKER_CONCURRENCY: int(1, 1, 64),
  WORKER_BATCH: int(4, 1, 16),
  MAX_PIXELS: int(1536 * 1536, 64 * 64, 8192 * 8192),
  ARTIFACTS_DIR: z.string().default('./data/artifacts'),
  ARTIFACTS_URL: z
    .string()
    .default('')
    .superRefine((v, ctx) => {
      const parsed = v === '' ? undefined : parseArtifactsUrl(v);
      if (parsed !== undefined && 'problem' in parsed)
        ctx.addIssue({ code: 'custom', message: parsed.problem });
    }),
  ARTIFACTS_PRESIGN: bool(false),
  ARTIFACTS_PRESIGN_EXPIRY_S: int(900, 1, 604_800),
  AWS_REGION: z.string().default('us-east-1'),
  AWS_ENDPOINT_URL: z
    .string()
    .default('')
    .refine((v) => v === '' || /^https?:\/\/[^/]/.test(v), {
      message: 'expected an http:// or https:// URL',
    }),
  AWS_ACCESS_KEY_ID: optionalSecret,
  AWS_SECRET_ACCESS_KEY: optionalSecret,
  HF_TOKEN: optionalSecret,
  HF_ENDPOINT: url('https://huggingface.co', ['http:', 'https:']),

  // credits and quotas (defaults for every scope; admins change them per scope)
  CREDITS_PER_IMAGE: num(1, 0, 1000),
  CREDITS_UPSCALE_2X: num(1, 0, 1000),
  CREDITS_UPSCALE_4X: num(2, 0, 1000),
  CREDITS_ZOOM_OUT: num(1, 0, 1000),
  DEFAULT_DAILY_ALLOWANCE: int(25, 0, 1_000_000),
  DEFAULT_COOLDOWN_S: int(5, 0, 86_400),
  DEFAULT_PENDING_CAP: int(3, 1, 1000),
  DUPLICATE_WINDOW_S: int(30, 0, 3600),

  // discord
  DISCORD_ENABLED: bool(false),
  DISCORD_TOKEN: optionalSecret,
  DISCORD_APPLICATION_ID: z.string().optional(),
  DISCORD_API_BASE: url('https://discord.com/api', ['http:', 'https:']),

  // slack
  SLACK_ENABLED: bool(false),
  SLACK_BOT_TOKEN: optionalSecret,
  SLACK_SIGNING_SECRET: optionalSecret,
  SLACK_SOCKET_MODE: bool(false),
  SLACK_APP_TOKEN: optionalSecret,
  SLACK_API_URL: url('https://slack.com/api/', ['http:', 'https:']),
  SLACK_PORT: int(3000, 0, 65535),
  SLACK_ADMINS: list(''),

  // REST API
  API_ENABLED: bool(true),
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: int(8080, 0, 65535),
  API_PUBLIC_URL: z.string().default(''),
  API_SYNC_WAIT_MS: int(8000, 0, 120_000),
  // The faces whose APIs have no fetch (aithriving, segmind, A1111, OpenAI) wait this long, then cancel and refund.
  API_SYNC_FACE_WAIT_MS: int(600_000, 1000, 3_600_000),
  API_BODY_LIMIT_MB: int(20, 1, 200),
  // Until a key has been checked; see the README (REST API) for why 1 MB.
  API_UNAUTHENTICATED_BODY_LIMIT_KB: int(1024, 1, 200 * 1024),
  API_AUTH_FAILURES_PER_MINUTE: int(20, 0, 1_000_000),
  API_TRUST_PROXY: z.string().default(''),
  API_ALLOW_PRIVATE_FETCH: bool(false),
  WEBHOOK_SECRET: optionalSecret,
  // Signs Vary (Region) links; empty: one random key kept in Redis for every host (src/region-editor).
  REGION_EDITOR_SECRET: optionalSecret.refine((v) => v === undefined || v.length >= 32, {
    message: 'must be at least 32 characters (e.g. openssl rand -base64 32)',
  }),
  IMAGE_RETENTION_HOURS: num(24, 0.01, 24 * 365),
});

export type Config = z.output<typeof configSchema>;
export type ConfigKey = keyof z.input<typeof configSchema>;

const TRUE_VALUES = ['true', '1', 'yes', 'on'];

/**
 * Variables that depend on others (a platform enabled, an S3 store, a Redis Cluster). Checked on
 * the raw environment, apart from the schema, so they are reported together with every other bad
 * variable in one message.
 */
export function missingPlatformVariables(
  env: Record<string, string | undefined>,
): { name: string; message: string }[] {
  const on = (name: string) => TRUE_VALUES.includes((env[name] ?? '').trim().toLowerCase());
  const missing: { name: string; message: string }[] = [];
  const need = (when: boolean, flag: string, names: string[]) => {
    if (!when) return;
    for (const name of names) if (!env[name]) missing.push({ name, message: `required when ${flag}` });
  };
  const slack = on('SLACK_ENABLED');
  const socket = on('SLACK_SOCKET_MODE');
  need(on('DISCORD_ENABLED'), 'DISCORD_ENABLED=true', ['DISCORD_TOKEN', 'DISCORD_APPLICATION_ID']);
  need(slack, 'SLACK_ENABLED=true', ['SLACK_BOT_TOKEN']);
  need(slack && !socket, 'SLACK_ENABLED=true and SLACK_SOCKET_MODE=false', ['SLACK_SIGNING_SECRET']);
  need(slack && socket, 'SLACK_SOCKET_MODE=true', ['SLACK_APP_TOKEN']);
  const cluster = /^rediss?\+cluster:/.test(env.REDIS_URL ?? '');
  if (cluster && env.QUEUE_PREFIX !== undefined && !/^\{[^{}]+\}$/.test(env.QUEUE_PREFIX)) {
    missing.push({
      name: 'QUEUE_PREFIX',
      message:
        'a Redis Cluster needs a hash-tagged prefix such as {easel}, so every key and script stays in one slot',
    });
  }
  if (on('ARTIFACTS_PRESIGN') && !env.ARTIFACTS_URL) {
    missing.push({
      name: 'ARTIFACTS_URL',
      message: 'required when ARTIFACTS_PRESIGN=true (presigned links need an S3 store)',
    });
  }
  if (Boolean(env.AWS_ACCESS_KEY_ID) !== Boolean(env.AWS_SECRET_ACCESS_KEY)) {
    const name = env.AWS_ACCESS_KEY_ID ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID';
    missing.push({ name, message: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together' });
  }
  return missing;
}
