/**
 * How a command declares its options, once for every platform. Discord's command definitions are
 * generated from a `CommandSchema` (src/platforms/discord/command-definitions.ts) and its typed
 * options read back by the same names; Slack's and the CLI's text is parsed with the same
 * declarations (the `flags` spellings). Data only: nothing here loads a platform library.
 */

export type OptionKind = 'string' | 'integer' | 'number' | 'boolean' | 'attachment' | 'role' | 'user';

export interface OptionChoice {
  /** What the member sees in the list. */
  name: string;
  /** What the handler receives. */
  value: string;
}

export interface OptionSchema {
  /** The typed option's name (Discord), and the label messages use for it there. */
  name: string;
  kind: OptionKind;
  description: string;
  required?: boolean;
  min?: number;
  max?: number;
  maxLength?: number;
  choices?: readonly OptionChoice[];
  /** Values are suggested as the member types (the model list). */
  autocomplete?: boolean;
  /**
   * How the option is written in text (Slack, the CLI, Discord's prompt field): the first spelling
   * is the one messages and help show, the others are accepted too. Absent: typed only.
   */
  flags?: readonly string[];
  /** A value that shows what the option takes (`16:9` for `--ar`), for "needs a value" messages. */
  example?: string;
}

export interface SubcommandSchema {
  name: string;
  description: string;
  options: readonly OptionSchema[];
}

export interface CommandSchema {
  name: string;
  description: string;
  /** Only for the scope's admins: hidden from members (and checked again in code). */
  adminOnly?: boolean;
  options?: readonly OptionSchema[];
  subcommands?: readonly SubcommandSchema[];
}

/** Choices whose names are their values (aspect ratios, NSFW policies). */
export function plainChoices(values: readonly string[]): OptionChoice[] {
  return values.map((value) => ({ name: value, value }));
}
