import {
  InteractionContextType,
  PermissionFlagsBits,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  type SlashCommandAttachmentOption,
  type SlashCommandBooleanOption,
  SlashCommandBuilder,
  type SlashCommandIntegerOption,
  type SlashCommandNumberOption,
  type SlashCommandRoleOption,
  type SlashCommandStringOption,
  type SlashCommandSubcommandBuilder,
  type SlashCommandUserOption,
} from 'discord.js';
import { CREDITS_COMMAND } from '../../../commands/credits-options.ts';
import { IMAGINE_COMMAND } from '../../../commands/imagine-options.ts';
import type { CommandSchema, OptionSchema } from '../../../commands/option-schema.ts';
import { QUOTA_COMMAND } from '../../../commands/quota-options.ts';
import { SETTINGS_COMMAND } from '../../../commands/setting-options.ts';

/**
 * The slash commands easel registers (one bulk overwrite: `easel register-commands`), generated
 * from each command's option schema in commands/. discord.js's builders check Discord's own rules
 * (name and description lengths, at most 25 options and choices) when the definitions are built.
 */

/** A command or a subcommand: what options are added to (the return values are not used). */
interface OptionHolder {
  addStringOption(input: (o: SlashCommandStringOption) => SlashCommandStringOption): unknown;
  addIntegerOption(input: (o: SlashCommandIntegerOption) => SlashCommandIntegerOption): unknown;
  addNumberOption(input: (o: SlashCommandNumberOption) => SlashCommandNumberOption): unknown;
  addBooleanOption(input: (o: SlashCommandBooleanOption) => SlashCommandBooleanOption): unknown;
  addAttachmentOption(input: (o: SlashCommandAttachmentOption) => SlashCommandAttachmentOption): unknown;
  addRoleOption(input: (o: SlashCommandRoleOption) => SlashCommandRoleOption): unknown;
  addUserOption(input: (o: SlashCommandUserOption) => SlashCommandUserOption): unknown;
}

interface NamedOption<T> {
  setName(name: string): T;
  setDescription(description: string): T;
  setRequired(required: boolean): T;
}

function named<T extends NamedOption<T>>(o: T, option: OptionSchema): T {
  o.setName(option.name).setDescription(option.description);
  if (option.required) o.setRequired(true);
  return o;
}

interface Ranged<T> {
  setMinValue(min: number): T;
  setMaxValue(max: number): T;
}

function ranged<T extends Ranged<T>>(o: T, option: OptionSchema): T {
  if (option.min !== undefined) o.setMinValue(option.min);
  if (option.max !== undefined) o.setMaxValue(option.max);
  return o;
}

function addOption(holder: OptionHolder, option: OptionSchema): void {
  switch (option.kind) {
    case 'string':
      holder.addStringOption((o) => {
        named(o, option);
        if (option.choices) o.addChoices(...option.choices);
        if (option.autocomplete) o.setAutocomplete(true);
        if (option.maxLength !== undefined) o.setMaxLength(option.maxLength);
        return o;
      });
      return;
    case 'integer':
      holder.addIntegerOption((o) => ranged(named(o, option), option));
      return;
    case 'number':
      holder.addNumberOption((o) => ranged(named(o, option), option));
      return;
    case 'boolean':
      holder.addBooleanOption((o) => named(o, option));
      return;
    case 'attachment':
      holder.addAttachmentOption((o) => named(o, option));
      return;
    case 'role':
      holder.addRoleOption((o) => named(o, option));
      return;
    case 'user':
      holder.addUserOption((o) => named(o, option));
      return;
  }
}

/** One command's definition from its schema. */
export function discordCommand(schema: CommandSchema): RESTPostAPIChatInputApplicationCommandsJSONBody {
  const command = new SlashCommandBuilder()
    .setName(schema.name)
    .setDescription(schema.description)
    .setContexts(InteractionContextType.Guild);
  // Hidden from members without Manage Server; the handlers check the permission again.
  if (schema.adminOnly) command.setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild);
  for (const option of schema.options ?? []) addOption(command, option);
  for (const sub of schema.subcommands ?? []) {
    command.addSubcommand((s: SlashCommandSubcommandBuilder) => {
      s.setName(sub.name).setDescription(sub.description);
      for (const option of sub.options) addOption(s, option);
      return s;
    });
  }
  return command.toJSON();
}

/** Every command, as the JSON body of a bulk overwrite. */
export function commandDefinitions(): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return [IMAGINE_COMMAND, CREDITS_COMMAND, QUOTA_COMMAND, SETTINGS_COMMAND].map(discordCommand);
}
