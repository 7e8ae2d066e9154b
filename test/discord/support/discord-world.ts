import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningRole } from '../../../src/app/role.ts';
import { createServices, type Services } from '../../../src/app/services.ts';
import { DiskArtifactStore } from '../../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import type { Config } from '../../../src/config/schema.ts';
import { createOnce } from '../../../src/delivery/once.ts';
import type { TinyFamily } from '../../../src/engine/tiny/tiny-families.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { DiscordDelivery } from '../../../src/platforms/discord/deliver-discord.ts';
import { DiscordBot } from '../../../src/platforms/discord/discord-bot.ts';
import { createDiscordRest } from '../../../src/platforms/discord/discord-client.ts';
import { DiscordReplyStore } from '../../../src/platforms/discord/reply-store.ts';
import { startGenerateRole } from '../../../src/queue/worker-role.ts';
import { startDeliverWorker } from '../../../workers/deliver.ts';
import { type FakeChannel, FakeDiscord, type FakeGuild } from '../../fakes/discord/fake-discord.ts';
import { testRedisUrl, uniquePrefix } from '../../support/redis.ts';
import { tinyEntry, tinyWorld } from '../../support/tiny-models.ts';

/**
 * Everything a Discord end-to-end test needs, real apart from Discord itself: the fake Discord, the
 * real discord.js bot, admission on the private test Redis, the tiny model rendered by the real
 * generate worker, and the deliver worker with the Discord deliverer.
 */
export interface DiscordWorld {
  fake: FakeDiscord;
  guild: FakeGuild;
  channel: FakeChannel;
  config: Config;
  prefix: string;
  services: Services;
  artifacts: DiskArtifactStore;
  bot: DiscordBot;
  replies: DiscordReplyStore;
  /** The deliverer the deliver worker runs (tests call it again to see that nothing posts twice). */
  delivery: DiscordDelivery;
  /** Stops the bot and starts a new one (new gateway session, nothing kept in memory). */
  restartBot(): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  env?: Record<string, string>;
  /** Render with this family's tiny model as `tiny` (the faces' family tests). */
  family?: TinyFamily;
  answerBudgetMs?: number;
  /** Start the generate worker in this process (default true). */
  generate?: boolean;
  /** Adds channels or guilds before the bot connects (it learns them from GUILD_CREATE). */
  beforeBot?: (fake: FakeDiscord, guild: FakeGuild) => void;
}

export async function discordWorld(name: string, options: WorldOptions = {}): Promise<DiscordWorld> {
  const fake = await new FakeDiscord().start();
  const guild = fake.addGuild('Painters');
  const channel = fake.addChannel(guild.id, { name: 'art' });
  options.beforeBot?.(fake, guild);
  const tiny = await tinyWorld({
    variants: ['tiny'],
    ...(options.family !== undefined ? { family: options.family } : {}),
  });
  // Shown at 512 (the smallest display sizes are 320..1536), rendered at 64 like easel-mini.
  tiny.catalog.models = [tinyEntry('tiny', { nativeResolution: 512, renderScale: 8 })];
  const artifactsDir = await mkdtemp(join(tmpdir(), 'easel-discord-artifacts-'));
  const artifacts = new DiskArtifactStore(artifactsDir);
  const prefix = uniquePrefix(name);
  const config = parseConfig({
    REDIS_URL: testRedisUrl(),
    LOG_LEVEL: 'silent',
    MODELS_DIR: tiny.modelsDir,
    ARTIFACTS_DIR: artifactsDir,
    DEFAULT_MODEL: 'tiny',
    DEFAULT_DAILY_ALLOWANCE: '100',
    DEFAULT_COOLDOWN_S: '0',
    DEFAULT_PENDING_CAP: '20',
    EXECUTION_PROVIDERS: 'cpu',
    ENGINE_THREADS: '1',
    DISCORD_ENABLED: 'true',
    DISCORD_TOKEN: fake.botToken,
    DISCORD_APPLICATION_ID: fake.applicationId,
    DISCORD_API_BASE: fake.apiBase,
    ...options.env,
  });
  const logger = createLogger(config.LOG_LEVEL);
  const services = await createServices(config, logger, { prefix, artifacts, registry: tiny.catalog });
  const generate: RunningRole | undefined =
    options.generate === false
      ? undefined
      : await startGenerateRole(
          { config, logger },
          { prefix, artifacts, catalog: tiny.catalog, warmUp: false },
        );

  const replies = new DiscordReplyStore(services.redis, prefix);
  const delivery = new DiscordDelivery({
    bot: createDiscordRest(config.DISCORD_API_BASE, config.DISCORD_TOKEN),
    webhooks: createDiscordRest(config.DISCORD_API_BASE),
    artifacts,
    replies,
    nsfwPolicy: async (scope) => (await services.quotas.get(scope)).nsfw,
    once: createOnce(services.redis, prefix),
    logger,
  });
  const deliverWorker = await startDeliverWorker({
    redisUrl: config.REDIS_URL,
    prefix,
    deliverers: { discord: delivery },
    logger,
  });

  const startBot = () =>
    DiscordBot.start({
      services,
      logger,
      token: config.DISCORD_TOKEN!,
      apiBase: config.DISCORD_API_BASE,
      prefix,
      ...(options.answerBudgetMs !== undefined ? { answerBudgetMs: options.answerBudgetMs } : {}),
    });
  const world: DiscordWorld = {
    fake,
    guild,
    channel,
    config,
    prefix,
    services,
    artifacts,
    bot: await startBot(),
    replies,
    delivery,
    async restartBot() {
      await world.bot.stop();
      world.bot = await startBot();
    },
    async close() {
      await world.bot.stop();
      await deliverWorker.close();
      await generate?.stop();
      await services.close();
      await fake.stop();
      await rm(tiny.modelsDir, { recursive: true, force: true });
      await rm(artifactsDir, { recursive: true, force: true });
    },
  };
  return world;
}
