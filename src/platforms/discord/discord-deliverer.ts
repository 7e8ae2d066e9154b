import type { DelivererFactory } from '../../delivery/deliverer.ts';
import { createOnce } from '../../delivery/once.ts';
import { CodedError } from '../../errors/coded-error.ts';
import { DiscordDelivery } from './deliver-discord.ts';
import { createDiscordRest } from './discord-client.ts';
import { DiscordReplyStore } from './reply-store.ts';

/**
 * The Discord deliverer of the `deliver` role: REST only (bot token for channels and threads, no
 * token for interaction webhooks), so a deliver process needs no gateway connection.
 */
export const createDiscordDeliverer: DelivererFactory = async ({ config, logger, services }) => {
  if (!config.DISCORD_TOKEN) {
    throw new CodedError('config-invalid', 'The Discord deliverer needs DISCORD_TOKEN.');
  }
  const prefix = config.QUEUE_PREFIX;
  return new DiscordDelivery({
    bot: createDiscordRest(config.DISCORD_API_BASE, config.DISCORD_TOKEN),
    webhooks: createDiscordRest(config.DISCORD_API_BASE, undefined, { requestsPerSecond: 1000 }),
    artifacts: services.artifacts,
    replies: new DiscordReplyStore(services.redis, prefix),
    nsfwPolicy: async (scope) => (await services.quotas.get(scope)).nsfw,
    once: createOnce(services.redis, prefix),
    logger,
  });
};
