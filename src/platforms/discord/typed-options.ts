import type { ChatInputCommandInteraction } from 'discord.js';
import type { OptionSchema } from '../../../commands/option-schema.ts';

/**
 * The typed values of a command's options, by the names its schema declares (the same names the
 * definitions were generated with). Attachments, roles and members come back as their ids; what
 * the member left out is absent.
 */
export function typedOptions(
  interaction: ChatInputCommandInteraction,
  options: readonly OptionSchema[],
): Record<string, string | number | boolean> {
  const values: Record<string, string | number | boolean> = {};
  for (const option of options) {
    const value = interaction.options.get(option.name)?.value;
    if (value !== undefined && value !== null) values[option.name] = value;
  }
  return values;
}
