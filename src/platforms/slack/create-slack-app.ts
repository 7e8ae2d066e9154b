import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, type webApi } from '@slack/bolt';
import type { Services } from '../../app/services.ts';
import type { Config } from '../../config/schema.ts';
import { CodedError } from '../../errors/coded-error.ts';
import type { Logger } from '../../log/logger.ts';
import { boltLogger } from './bolt-logger.ts';
import { registerAdminCommand } from './handlers/admin-command.ts';
import { registerButtonActions } from './handlers/button-actions.ts';
import { registerCreditsCommand } from './handlers/credits-command.ts';
import { registerImagineCommand } from './handlers/imagine-command.ts';
import { registerInpaintSubmission } from './handlers/inpaint-submission.ts';
import { registerRemixSubmission } from './handlers/remix-submission.ts';
import { registerSettingsCommand } from './handlers/settings-command.ts';
import { NsfwChannels } from './nsfw-channels.ts';
import type { SlackDeps } from './slack-deps.ts';
import { followSlackProgress } from './slack-progress.ts';
import { StatusStore } from './status-store.ts';

/**
 * The Slack app: Bolt in HTTP mode (requests signed with SLACK_SIGNING_SECRET, on SLACK_PORT, path
 * /slack/events) or Socket Mode (SLACK_SOCKET_MODE=true, an app-level token, no public address).
 * The same handlers serve both. SLACK_API_URL points the Web API client, and Socket Mode's
 * `apps.connections.open`, at another base (the tests' fake Slack).
 */
export interface SlackAppOptions {
  config: Config;
  logger: Logger;
  services: Services;
  /** Prefix of easel's own Redis keys (QUEUE_PREFIX; tests pass a unique one). */
  keyPrefix: string;
}

export interface SlackApp {
  app: App;
  client: webApi.WebClient;
  deps: SlackDeps;
  /** The HTTP port listened on (HTTP mode), known after start. */
  port?: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Bolt's default answer to a request no listener acknowledged is a bare 404 after 3 s. */
const UNHANDLED_ANSWER = JSON.stringify({
  ok: false,
  error: 'unrecognized_request',
  message: 'easel does not handle this kind of request.',
});

export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { config, logger, services } = options;
  if (!config.SLACK_BOT_TOKEN)
    throw new CodedError('config-invalid', 'SLACK_BOT_TOKEN is required for the Slack app');
  const log = logger.child({ platform: 'slack' });
  const bolt = boltLogger(log);
  const clientOptions = { slackApiUrl: config.SLACK_API_URL };

  let app: App;
  let receiver: HTTPReceiver | undefined;
  if (config.SLACK_SOCKET_MODE) {
    if (!config.SLACK_APP_TOKEN)
      throw new CodedError('config-invalid', 'SLACK_APP_TOKEN is required in Socket Mode');
    app = new App({
      token: config.SLACK_BOT_TOKEN,
      appToken: config.SLACK_APP_TOKEN,
      socketMode: true,
      logger: bolt,
      clientOptions,
      deferInitialization: true,
    });
  } else {
    if (!config.SLACK_SIGNING_SECRET) {
      throw new CodedError('config-invalid', 'SLACK_SIGNING_SECRET is required in HTTP mode');
    }
    receiver = new HTTPReceiver({
      signingSecret: config.SLACK_SIGNING_SECRET,
      port: config.SLACK_PORT,
      logger: bolt,
      installerOptions: { clientOptions },
      unhandledRequestHandler: ({ response }) => {
        if (response.headersSent) return;
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(UNHANDLED_ANSWER);
      },
      customRoutes: [
        {
          path: '/healthz',
          method: 'GET',
          handler: (_req, res) => {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end('ok');
          },
        },
      ],
    });
    app = new App({
      token: config.SLACK_BOT_TOKEN,
      receiver,
      logger: bolt,
      clientOptions,
      deferInitialization: true,
    });
  }

  const deps: SlackDeps = {
    config,
    logger: log,
    services,
    client: app.client,
    statusStore: new StatusStore(services.redis, options.keyPrefix),
    nsfwChannels: new NsfwChannels(services.redis, options.keyPrefix),
  };
  registerImagineCommand(app, deps);
  registerCreditsCommand(app, deps);
  registerAdminCommand(app, deps);
  registerButtonActions(app, deps);
  registerInpaintSubmission(app, deps);
  registerRemixSubmission(app, deps);
  registerSettingsCommand(app, deps);
  app.error(async (error) => {
    log.error({ err: error }, 'unhandled error in a Slack handler');
  });

  let unfollow: (() => void) | undefined;
  const slack: SlackApp = {
    app,
    client: app.client,
    deps,
    async start() {
      // Initialized here rather than in the constructor (where Bolt's auth.test would reject
      // unobserved): a wrong token stops the role at start, not at the first command.
      await app.init();
      unfollow = followSlackProgress(deps);
      if (receiver) {
        const server = (await app.start(config.SLACK_PORT)) as Server;
        slack.port = (server.address() as AddressInfo).port;
        log.info({ port: slack.port }, 'Slack app listening (HTTP mode, /slack/events)');
      } else {
        await app.start();
        log.info('Slack app connected (Socket Mode)');
      }
    },
    async stop() {
      unfollow?.();
      await app.stop();
    },
  };
  return slack;
}
