import type { Services } from '../../app/services.ts';
import type { Logger } from '../../log/logger.ts';
import type { DiscordReplyStore } from './reply-store.ts';

/** What every interaction handler works with. */
export interface DiscordDeps {
  services: Services;
  replies: DiscordReplyStore;
  logger: Logger;
  /** How long admission may take before the bot defers instead of answering with the status. */
  answerBudgetMs: number;
  /** DISCORD_API_BASE: attachments are fetched only from Discord's CDN or this host. */
  apiBase: string;
}
