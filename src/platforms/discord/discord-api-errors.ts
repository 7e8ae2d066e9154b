import { DiscordAPIError } from 'discord.js';

/**
 * Discord's JSON error codes that decide what delivery does next (discord-api-docs, "JSON Error
 * Codes"): a dead interaction token means "use the bot token"; missing access or a deleted
 * channel cannot be fixed by retrying.
 */
export const DiscordCode = {
  UnknownChannel: 10003,
  UnknownMessage: 10008,
  UnknownWebhook: 10015,
  UnknownInteraction: 10062,
  MissingAccess: 50001,
  MissingPermissions: 50013,
  CannotExecuteOnChannelType: 50024,
  InvalidWebhookToken: 50027,
  ThreadAlreadyCreated: 160004,
} as const;

export function discordCode(error: unknown): number | undefined {
  return error instanceof DiscordAPIError && typeof error.code === 'number' ? error.code : undefined;
}

/** The interaction token no longer works (15 minutes passed, or Discord says so). */
export function isDeadToken(error: unknown): boolean {
  const code = discordCode(error);
  return (
    code === DiscordCode.InvalidWebhookToken ||
    code === DiscordCode.UnknownWebhook ||
    code === DiscordCode.UnknownInteraction
  );
}

/** The bot may not post there (or the place is gone): retrying will not help. */
export function isNoAccess(error: unknown): boolean {
  const code = discordCode(error);
  return (
    code === DiscordCode.MissingAccess ||
    code === DiscordCode.MissingPermissions ||
    code === DiscordCode.UnknownChannel
  );
}
