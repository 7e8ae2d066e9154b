import { webApi } from '@slack/bolt';
import type { Config } from '../../config/schema.ts';
import { CodedError } from '../../errors/coded-error.ts';
import type { Logger } from '../../log/logger.ts';
import { boltLogger } from './bolt-logger.ts';

/**
 * The Web API client the deliver role posts with (the Slack role uses Bolt's own). A 429 is waited
 * out for its Retry-After and the call retried, at most a few times: past that the delivery attempt
 * fails and BullMQ retries it later with backoff, so a long rate limit never holds a worker or
 * loops. Platform errors (`{ok: false}`) are never retried by the client.
 */
export function createSlackWebClient(config: Config, logger: Logger): webApi.WebClient {
  if (!config.SLACK_BOT_TOKEN) {
    throw new CodedError('config-invalid', 'SLACK_BOT_TOKEN is required to deliver to Slack');
  }
  return new webApi.WebClient(config.SLACK_BOT_TOKEN, {
    slackApiUrl: config.SLACK_API_URL,
    logger: boltLogger(logger),
    retryConfig: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5000 },
    timeout: 30_000,
  });
}
