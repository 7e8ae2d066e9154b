import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../src/app/services.ts';
import { DiskArtifactStore } from '../../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import type { Config } from '../../../src/config/schema.ts';
import { createOnce } from '../../../src/delivery/once.ts';
import type { TinyFamily } from '../../../src/engine/tiny/tiny-families.ts';
import { createLogger } from '../../../src/log/logger.ts';
import type { Registry } from '../../../src/models/registry.ts';
import { createSlackApp, type SlackApp } from '../../../src/platforms/slack/create-slack-app.ts';
import { createSlackDelivery } from '../../../src/platforms/slack/deliver-slack.ts';
import { createSlackWebClient } from '../../../src/platforms/slack/slack-web-client.ts';
import { startGenerateRole } from '../../../src/queue/worker-role.ts';
import { startDeliverWorker } from '../../../workers/deliver.ts';
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
import { tinyEntry, tinyModelEnv, tinyWorld, writeDamagedCopy } from '../../support/tiny-models.ts';

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
  readonly eventsUrl: string;
  /** Stops the Slack app and starts a new one (nothing kept in memory; a new port in HTTP mode). */
  restartApp(): Promise<void>;
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
  /** Render with this family's tiny model as `tiny` (the faces' family tests). */
  family?: TinyFamily;
  /** Render for real: the tiny model in the generate worker, and delivery to the fake Slack. */
  render?: boolean;
  socketMode?: boolean;
  env?: Record<string, string>;
  /** Reuse a fake (a second app against the same Slack). */
  fake?: FakeSlack;
}

export async function startSlackHarness(options: HarnessOptions): Promise<SlackHarness> {
  const fake = options.fake ?? (await FakeSlack.start());
  const prefix = uniquePrefix(options.name);
  const artifactsDir = await mkdtemp(join(tmpdir(), `easel-slack-${options.name}-`));
  const tiny = options.render
    ? await tinyWorld({
        variants: ['tiny'],
        ...(options.family !== undefined ? { family: options.family } : {}),
      })
    : undefined;
  if (tiny) {
    // Installed, but with a damaged UNet: admitted, its jobs fail on the worker, for failure paths.
    writeDamagedCopy(tiny, 'ghost');
    // Shown at 512 (display sizes are 320..1536), rendered at 64 like easel-mini.
    tiny.catalog.models = [
      tinyEntry('tiny', { nativeResolution: 512, renderScale: 8 }),
      tinyEntry('ghost', {
        folder: 'ghost',
        nativeResolution: 512,
        renderScale: 8,
        nsfwScreening: 'not-needed',
      }),
    ];
  }
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
    ...(tiny ? tinyModelEnv(tiny) : {}),
    ...options.env,
  });
  const logger = createLogger(config.LOG_LEVEL);
  const artifacts = new DiskArtifactStore(artifactsDir);
  const services = await createServices(config, logger, {
    prefix,
    artifacts,
    ...(tiny ? { registry: tiny.catalog } : {}),
  });
  const render = tiny ? await startRendering(config, prefix, artifacts, tiny.catalog, services) : undefined;
  const startApp = async () => {
    const app = createSlackApp({ config, logger, services, keyPrefix: prefix });
    await app.start();
    return app;
  };
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
  const harness: SlackHarness = {
    fake,
    config,
    services,
    slack: await startApp(),
    prefix,
    artifactsDir,
    get eventsUrl() {
      return `http://127.0.0.1:${harness.slack.port ?? 0}/slack/events`;
    },
    async restartApp() {
      await harness.slack.stop();
      harness.slack = await startApp();
    },
    async command(who, command, text) {
      const fields = slashCommand(fake, who, command, text);
      if (options.socketMode) return viaSocket('slash_commands', fields);
      return postSigned(harness.eventsUrl, SIGNING_SECRET, formBody(fields));
    },
    async press(press) {
      const payload = blockActions(fake, press);
      if (options.socketMode) return viaSocket('interactive', payload);
      return postSigned(harness.eventsUrl, SIGNING_SECRET, interactiveBody(payload));
    },
    async submit(submission) {
      const payload = viewSubmission(fake, submission);
      if (options.socketMode) return viaSocket('interactive', payload);
      return postSigned(harness.eventsUrl, SIGNING_SECRET, interactiveBody(payload));
    },
    async close() {
      await harness.slack.stop();
      await render?.stop();
      await services.close();
      if (tiny) await rm(tiny.modelsDir, { recursive: true, force: true });
      if (!options.fake) await fake.close();
      await rm(artifactsDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/**
 * The generate worker (real engine, tiny model) and the deliver worker with the Slack deliverer.
 */
async function startRendering(
  config: Config,
  prefix: string,
  artifacts: DiskArtifactStore,
  catalog: Registry,
  services: Services,
): Promise<{ stop(): Promise<void> }> {
  const logger = createLogger(config.LOG_LEVEL);
  const generate = await startGenerateRole({ config, logger }, { prefix, artifacts, catalog, warmUp: false });
  const delivery = createSlackDelivery({
    client: createSlackWebClient(config, logger),
    redis: services.redis,
    keyPrefix: prefix,
    artifacts,
    nsfwPolicy: async (scope) => (await services.quotas.get(scope)).nsfw,
    once: createOnce(services.redis, prefix),
    logger,
  });
  const deliver = await startDeliverWorker({
    redisUrl: config.REDIS_URL,
    prefix,
    deliverers: { slack: delivery },
    logger,
    concurrency: 4,
  });
  return {
    async stop() {
      await deliver.close();
      await generate.stop();
    },
  };
}

/** Jobs in the generate queue, whatever their state. */
export async function queuedJobs(services: Services): Promise<number> {
  const counts = await services.queues.generate.getJobCounts();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
