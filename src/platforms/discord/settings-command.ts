import { type ChatInputCommandInteraction, MessageFlags } from 'discord.js';
import { SETTING_OPTIONS } from '../../../commands/setting-options.ts';
import {
  handleSettings,
  type RawSettings,
  type SettingsOperation,
  settingsLines,
} from '../../../commands/settings.ts';
import { refusalAnswer } from './answers.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { isServerAdmin, memberOf } from './interaction-context.ts';
import { escapeMarkdown, MESSAGE_MAX, truncate } from './status-text.ts';
import { typedOptions } from './typed-options.ts';

/** The typed options of `/settings set` (or `server`), by the names SETTING_OPTIONS gives them. */
function typedSettings(interaction: ChatInputCommandInteraction): RawSettings {
  const typed = typedOptions(interaction, SETTING_OPTIONS);
  const raw: RawSettings = { values: {}, labels: {}, errors: [] };
  for (const option of SETTING_OPTIONS) {
    if (!(option.name in typed)) continue;
    raw.values[option.key] = typed[option.name];
    raw.labels[option.key] = option.name;
  }
  return raw;
}

function operationOf(interaction: ChatInputCommandInteraction): SettingsOperation {
  switch (interaction.options.getSubcommand()) {
    case 'set':
      return { op: 'set', target: 'mine', raw: typedSettings(interaction) };
    case 'reset':
      return { op: 'reset', target: 'mine' };
    case 'server':
      return { op: 'set', target: 'scope', raw: typedSettings(interaction) };
    case 'server-reset':
      return { op: 'reset', target: 'scope' };
    default:
      return { op: 'show' };
  }
}

/**
 * `/settings show|set|reset` (the member's own defaults) and `/settings server|server-reset`
 * (Manage Server: the server's defaults), answered privately with what now applies.
 */
export async function onSettings(deps: DiscordDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  const reply = await handleSettings(deps.services, {
    member: memberOf(interaction),
    isAdmin: isServerAdmin(interaction),
    operation: operationOf(interaction),
  });
  const content =
    reply.status === 'refused'
      ? refusalAnswer(reply.error).content
      : `⚙️ ${settingsLines(reply, 'server').map(escapeMarkdown).join('\n')}`;
  await interaction.reply({
    content: truncate(content, MESSAGE_MAX),
    flags: MessageFlags.Ephemeral,
    allowedMentions: { parse: [] },
  });
}
