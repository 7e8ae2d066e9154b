import { type Client, Events, type Interaction, MessageFlags, type REST } from 'discord.js';
import type { Services } from '../../app/services.ts';
import type { Logger } from '../../log/logger.ts';
import { onButton, onModalSubmit } from './action-interactions.ts';
import { INTERNAL_ERROR_ANSWER } from './answers.ts';
import { onCredits } from './credits-command.ts';
import { createDiscordClient, createDiscordRest } from './discord-client.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { DEFAULT_ANSWER_BUDGET_MS, InFlight } from './first-response.ts';
import { onImagine } from './imagine-command.ts';
import { onAutocomplete } from './model-autocomplete.ts';
import { watchProgress } from './progress-edits.ts';
import { onQuota } from './quota-command.ts';
import { DiscordReplyStore } from './reply-store.ts';
import { onSettings } from './settings-command.ts';

export interface DiscordBotOptions {
  services: Services;
  logger: Logger;
  token: string;
  /** DISCORD_API_BASE. */
  apiBase: string;
  /** Redis key prefix (the queue prefix). */
  prefix: string;
  answerBudgetMs?: number;
}

/**
 * The gateway bot: receives interactions and answers them, and keeps status messages up to date
 * with progress. Posting results is the deliver worker's (deliver-discord.ts), so a bot restart
 * loses nothing: every job, reply and button lives in Redis.
 */
export class DiscordBot {
  private stopWatching: (() => void) | undefined;

  private constructor(
    readonly client: Client,
    private readonly deps: DiscordDeps,
    readonly webhooks: REST,
  ) {}

  static async start(options: DiscordBotOptions): Promise<DiscordBot> {
    const client = createDiscordClient(options.apiBase);
    // Interaction webhooks are not bound by the bot's global limit (discord-api-docs, Rate Limits).
    const webhooks = createDiscordRest(options.apiBase, undefined, { requestsPerSecond: 1000 });
    const replies = new DiscordReplyStore(options.services.redis, options.prefix);
    const deps: DiscordDeps = {
      services: options.services,
      replies,
      logger: options.logger,
      answerBudgetMs: options.answerBudgetMs ?? DEFAULT_ANSWER_BUDGET_MS,
      inFlight: new InFlight(),
      webhooks,
      prefix: options.prefix,
      apiBase: options.apiBase,
    };
    const bot = new DiscordBot(client, deps, webhooks);
    client.on(
      Events.InteractionCreate,
      (interaction) => void deps.inFlight.around(() => bot.route(interaction)),
    );
    client.on(Events.Error, (err) => options.logger.error({ err }, 'discord client error'));
    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    await client.login(options.token);
    await ready;
    bot.stopWatching = watchProgress({
      progress: options.services.progress,
      replies,
      webhooks,
      logger: options.logger,
    });
    options.logger.info({ user: client.user?.tag, guilds: client.guilds.cache.size }, 'discord bot ready');
    return bot;
  }

  async stop(): Promise<void> {
    this.stopWatching?.();
    await this.client.destroy();
  }

  private async route(interaction: Interaction): Promise<void> {
    const { deps } = this;
    try {
      if (!interaction.inGuild()) {
        if (interaction.isRepliable()) {
          await interaction.reply({ content: 'easel works in servers only.', flags: MessageFlags.Ephemeral });
        }
        return;
      }
      if (interaction.isChatInputCommand()) {
        switch (interaction.commandName) {
          case 'imagine':
            return await onImagine(deps, interaction);
          case 'credits':
            return await onCredits(deps, interaction);
          case 'quota':
            return await onQuota(deps, interaction);
          case 'settings':
            return await onSettings(deps, interaction);
          default:
            await interaction.reply({
              content: `⚠️ easel has no /${interaction.commandName} command. An admin can refresh the list with \`easel register-commands\`.`,
              flags: MessageFlags.Ephemeral,
            });
            return;
        }
      }
      if (interaction.isAutocomplete())
        return await onAutocomplete(deps.services.registry, deps.services.config.MODELS_DIR, interaction);
      if (interaction.isButton()) return await onButton(deps, interaction);
      if (interaction.isModalSubmit()) return await onModalSubmit(deps, interaction);
      if (interaction.isRepliable()) {
        await interaction.reply({
          content: '⚠️ easel does not handle this kind of interaction.',
          flags: MessageFlags.Ephemeral,
        });
      }
    } catch (err) {
      deps.logger.error({ err, interaction: interaction.id }, 'interaction failed');
      if (interaction.isRepliable() && !interaction.replied && !interaction.deferred) {
        await interaction
          .reply({ content: INTERNAL_ERROR_ANSWER.content, flags: MessageFlags.Ephemeral })
          .catch(() => {});
      }
    }
  }
}
