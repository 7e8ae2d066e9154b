import type { Command } from 'commander';
import { DiscordAPIError } from 'discord.js';
import { loadConfig } from '../../config/load-config.ts';
import { CodedError } from '../../errors/coded-error.ts';
import { registerCommands } from '../../platforms/discord/register-commands.ts';

export function registerRegisterCommands(program: Command): void {
  program
    .command('register-commands')
    .description('register /imagine, /credits and /quota with Discord (one bulk overwrite)')
    .option(
      '--guild <id>',
      'register in this server only (takes effect at once; global commands take up to an hour)',
    )
    .action(async (options: { guild?: string }) => {
      const config = loadConfig();
      if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID) {
        throw new CodedError(
          'config-invalid',
          'register-commands needs DISCORD_TOKEN and DISCORD_APPLICATION_ID (from the Discord developer portal).',
        );
      }
      if (options.guild !== undefined && !/^\d{17,20}$/.test(options.guild)) {
        throw new CodedError(
          'config-invalid',
          `--guild: expected a server id (17-20 digits), got "${options.guild}"`,
        );
      }
      const saved = await registerCommands({
        token: config.DISCORD_TOKEN,
        applicationId: config.DISCORD_APPLICATION_ID,
        apiBase: config.DISCORD_API_BASE,
        guildId: options.guild,
      }).catch((error: unknown) => {
        if (error instanceof DiscordAPIError) {
          throw new CodedError(
            'platform-error',
            `Discord refused the commands: ${error.message} (code ${error.code})`,
          );
        }
        throw error;
      });
      const where = options.guild
        ? `in server ${options.guild}`
        : 'globally (may take up to an hour to appear)';
      console.log(
        `Registered ${saved.length} commands ${where}: ${saved.map((c) => `/${c.name}`).join(', ')}`,
      );
    });
}
