import { REST, Routes } from 'discord.js';
import { commandDefinitions } from './command-definitions.ts';

export interface RegisterCommandsOptions {
  token: string;
  applicationId: string;
  /** DISCORD_API_BASE. */
  apiBase: string;
  /** Register in one guild (updates at once) instead of globally (propagates over up to an hour). */
  guildId?: string;
}

export interface RegisteredCommand {
  id: string;
  name: string;
}

/**
 * Replaces the application's commands with easel's in one bulk overwrite (PUT), so commands that
 * were removed from easel disappear too and the daily create limit is never approached.
 */
export async function registerCommands(options: RegisterCommandsOptions): Promise<RegisteredCommand[]> {
  const rest = new REST({ api: options.apiBase }).setToken(options.token);
  const route = options.guildId
    ? Routes.applicationGuildCommands(options.applicationId, options.guildId)
    : Routes.applicationCommands(options.applicationId);
  const saved = (await rest.put(route, { body: commandDefinitions() })) as RegisteredCommand[];
  return saved.map(({ id, name }) => ({ id, name }));
}
