import { type Logger, pino } from 'pino';

/**
 * Structured logging. Secrets are redacted wherever they appear in a logged object, so a token
 * passed by mistake never reaches the log.
 */
const REDACT_PATHS = [
  'token',
  '*.token',
  '*.*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  'key',
  '*.key',
  'apiKey',
  '*.apiKey',
  'DISCORD_TOKEN',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'HF_TOKEN',
  'WEBHOOK_SECRET',
  '*.DISCORD_TOKEN',
  '*.SLACK_BOT_TOKEN',
  '*.SLACK_SIGNING_SECRET',
  '*.SLACK_APP_TOKEN',
  '*.HF_TOKEN',
  '*.WEBHOOK_SECRET',
  'interactionToken',
  '*.interactionToken',
];

/**
 * Lines go to stdout synchronously, each written before the call returns: pino's default
 * asynchronous stdout occasionally wrote a later line first (seen with "role stopped" lines at
 * shutdown), and easel logs little enough at info level for the ordering to be worth more.
 */
export function createLogger(
  level = 'info',
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true }),
): Logger {
  return pino(
    { level, base: { app: 'easel' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination,
  );
}

export type { Logger };

/**
 * The logger of one role. pino writes every binding of every child level, so binding `role` again
 * where the caller already did (run-roles binds it, then the API server would) prints the key twice
 * in one line; this binds it only once.
 */
export function roleLogger(logger: Logger, role: string): Logger {
  return logger.bindings().role === role ? logger : logger.child({ role });
}
