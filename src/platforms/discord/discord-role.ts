import { DiscordjsError, DiscordjsErrorCodes } from 'discord.js';
import type { RoleStarter } from '../../app/role.ts';
import { createServices } from '../../app/services.ts';
import { CodedError } from '../../errors/coded-error.ts';
import { DiscordBot } from './discord-bot.ts';

/**
 * The `discord` role: the gateway bot with its own Services. Results are posted by the `deliver`
 * role (discord-deliverer.ts), so the bot can restart without losing one: jobs, status messages
 * and buttons all live in Redis.
 */
export const startDiscordRole: RoleStarter = async ({ config, logger }) => {
  if (!config.DISCORD_TOKEN) throw new CodedError('config-invalid', 'The discord role needs DISCORD_TOKEN.');
  const services = await createServices(config, logger);
  let bot: DiscordBot;
  try {
    bot = await DiscordBot.start({
      services,
      logger,
      token: config.DISCORD_TOKEN,
      apiBase: config.DISCORD_API_BASE,
      prefix: config.QUEUE_PREFIX,
    });
  } catch (error) {
    await services.close();
    if (error instanceof DiscordjsError && error.code === DiscordjsErrorCodes.TokenInvalid) {
      throw new CodedError(
        'config-invalid',
        'Discord refused DISCORD_TOKEN: copy the bot token again from the developer portal.',
      );
    }
    throw error;
  }
  return {
    name: 'discord',
    async stop() {
      await bot.stop();
      await services.close();
    },
  };
};
