import type { REST } from 'discord.js';
import type { Services } from '../../app/services.ts';
import type { Logger } from '../../log/logger.ts';
import type { InFlight } from './first-response.ts';
import type { DiscordReplyStore } from './reply-store.ts';

/** What every interaction handler works with. */
export interface DiscordDeps {
  services: Services;
  replies: DiscordReplyStore;
  logger: Logger;
  /** How long admission may take before the bot defers instead of answering with the status. */
  answerBudgetMs: number;
  /** Interactions being answered now: when many are, the bot defers first. */
  inFlight: InFlight;
  /** REST for interaction webhooks (no bot token; not bound by the global limit). */
  webhooks: REST;
  /** Redis key prefix (the queue prefix). */
  prefix: string;
  /** DISCORD_API_BASE: attachments are fetched only from Discord's CDN or this host. */
  apiBase: string;
}
