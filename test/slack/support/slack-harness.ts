import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../src/app/services.ts';
import { DiskArtifactStore } from '../../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import type { Config } from '../../../src/config/schema.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { createSlackApp, type SlackApp } from '../../../src/platforms/slack/create-slack-app.ts';
import { FakeSlack } from '../../fakes/slack/fake-slack.ts';
import {
  type ButtonPress,
  blockActions,
  type ModalSubmission,
  slashCommand,
  viewSubmission,
} from '../../fakes/slack/payloads.ts';
import {
  formBody,
  interactiveBody,
  postSigned,
  type SlackHttpAnswer,
} from '../../fakes/slack/signed-request.ts';
import { testRedisUrl, uniquePrefix } from '../../support/redis.ts';

/**
 * One easel Slack frontend wired for a test: the fake Slack, real Services on the private test
 * Redis (a unique prefix), and the real Bolt app in HTTP mode (port 0) or Socket Mode, pointed at
 * the fake through SLACK_API_URL.
 */
export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';

export interface SlackHarness {
  fake: FakeSlack;
  config: Config;
  services: Services;
  slack: SlackApp;
  prefix: string;
  artifactsDir: string;
  /** http://127.0.0.1:<port>/slack/events (HTTP mode). */
  eventsUrl: string;
  command(
    who: { userId: string; teamId?: string; channelId?: string },
    command: string,
    text: string,
  ): Promise<SlackHttpAnswer>;
  press(press: ButtonPress): Promise<SlackHttpAnswer>;
  submit(submission: ModalSubmission): Promise<SlackHttpAnswer>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  name: string;
  socketMode?: boolean;
  env?: Record<string, string>;
  /** Reuse a fake (a second app against the same Slack). */
  fake?: FakeSlack;
}

export async function startSlackHarness(options: HarnessOptions): Promise<SlackHarness> {
  const fake = options.fake ?? (await FakeSlack.start());
  const prefix = uniquePrefix(options.name);
  const artifactsDir = await mkdtemp(join(tmpdir(), `easel-slack-${options.name}-`));
  const config = parseConfig({
    LOG_LEVEL: process.env.EASEL_TEST_LOG ?? 'silent',
    REDIS_URL: testRedisUrl(),
    ARTIFACTS_DIR: artifactsDir,
    SLACK_ENABLED: 'true',
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_SOCKET_MODE: options.socketMode ? 'true' : 'false',
    SLACK_APP_TOKEN: fake.appToken,
    SLACK_API_URL: fake.apiUrl,
    SLACK_PORT: '0',
    DEFAULT_COOLDOWN_S: '0',
    ...options.env,
  });
  const logger = createLogger(config.LOG_LEVEL);
  const services = await createServices(config, logger, {
    prefix,
    artifacts: new DiskArtifactStore(artifactsDir),
  });
  const slack = createSlackApp({ config, logger, services, keyPrefix: prefix });
  await slack.start();
  const eventsUrl = `http://127.0.0.1:${slack.port ?? 0}/slack/events`;
  const viaSocket = async (type: 'slash_commands' | 'interactive', payload: Record<string, unknown>) => {
    const started = performance.now();
    const ack = await fake.socketMode.send(type, payload);
    return {
      status: 200,
      text: JSON.stringify(ack.payload ?? {}),
      json: ack.payload,
      ms: performance.now() - started,
    };
  };
  return {
    fake,
    config,
    services,
    slack,
    prefix,
    artifactsDir,
    eventsUrl,
    async command(who, command, text) {
      const fields = slashCommand(fake, who, command, text);
      if (options.socketMode) return viaSocket('slash_commands', fields);
      return postSigned(eventsUrl, SIGNING_SECRET, formBody(fields));
    },
    async press(press) {
      const payload = blockActions(fake, press);
      if (options.socketMode) return viaSocket('interactive', payload);
      return postSigned(eventsUrl, SIGNING_SECRET, interactiveBody(payload));
    },
    async submit(submission) {
      const payload = viewSubmission(fake, submission);
      if (options.socketMode) return viaSocket('interactive', payload);
      return postSigned(eventsUrl, SIGNING_SECRET, interactiveBody(payload));
    },
    async close() {
      await slack.stop();
      await services.close();
      if (!options.fake) await fake.close();
      await rm(artifactsDir, { recursive: true, force: true });
    },
  };
}

/** Jobs in the generate queue, whatever their state. */
export async function queuedJobs(services: Services): Promise<number> {
  const counts = await services.queues.generate.getJobCounts();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
