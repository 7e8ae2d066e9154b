import { describe, expect, it } from 'vitest';
import { IMAGINE_COMMAND, IMAGINE_FLAG_OPTIONS } from '../../commands/imagine-options.ts';
import type { CommandSchema, OptionKind, OptionSchema } from '../../commands/option-schema.ts';
import { quotaChange, quotaChangesFromText, quotaSetChanges } from '../../commands/quota.ts';
import { QUOTA_COMMAND, QUOTA_SETTINGS, TEXT_QUOTA_SETTINGS } from '../../commands/quota-options.ts';
import { SETTING_OPTIONS, SETTINGS_COMMAND } from '../../commands/setting-options.ts';
import { parseSettingsText } from '../../commands/settings.ts';
import { commandDefinitions } from '../../src/platforms/discord/command-definitions.ts';
import { parseAdminCommand } from '../../src/platforms/slack/admin-command-text.ts';
import { NSFW_POLICIES } from '../../src/quotas/quota-policy.ts';
import { fromDiscordOptions } from '../../src/request/discord-options.ts';
import { KNOWN_FLAGS, parsePromptFlags } from '../../src/request/prompt-flags.ts';

/**
 * Each command's options are declared once (commands/*-options.ts). These tests hold the two
 * readings of a declaration to it: the Discord definitions generated from it, and the text parsers
 * Slack and the CLI use. A new option that one side forgets fails here.
 */

/** Discord's option type numbers (ApplicationCommandOptionType). */
const DISCORD_TYPE: Record<OptionKind, number> = {
  string: 3,
  integer: 4,
  boolean: 5,
  user: 6,
  role: 8,
  number: 10,
  attachment: 11,
};

interface DiscordOption {
  name: string;
  type: number;
  description: string;
  required?: boolean;
  min_value?: number;
  max_value?: number;
  max_length?: number;
  autocomplete?: boolean;
  choices?: { name: string; value: string }[];
  options?: DiscordOption[];
}

interface DiscordCommand {
  name: string;
  description: string;
  default_member_permissions?: string | null;
  options?: DiscordOption[];
}

function definition(name: string): DiscordCommand {
  const found = (commandDefinitions() as unknown as DiscordCommand[]).find((c) => c.name === name);
  if (!found) throw new Error(`no Discord definition for ${name}`);
  return found;
}

/** The Discord option says exactly what the schema declares: type, range, length, choices. */
function expectSameOption(discord: DiscordOption | undefined, schema: OptionSchema): void {
  expect(discord, schema.name).toBeDefined();
  expect(discord!.type, schema.name).toBe(DISCORD_TYPE[schema.kind]);
  expect(discord!.description, schema.name).toBe(schema.description);
  expect(discord!.required ?? false, schema.name).toBe(schema.required ?? false);
  expect(discord!.min_value, schema.name).toBe(schema.min);
  expect(discord!.max_value, schema.name).toBe(schema.max);
  expect(discord!.max_length, schema.name).toBe(schema.maxLength);
  expect(discord!.autocomplete ?? false, schema.name).toBe(schema.autocomplete ?? false);
  expect(discord!.choices, schema.name).toEqual(schema.choices?.map((c) => ({ ...c })));
}

function expectSameCommand(schema: CommandSchema): void {
  const discord = definition(schema.name);
  expect(discord.description).toBe(schema.description);
  expect(discord.default_member_permissions ?? null).toBe(schema.adminOnly ? '32' : null);
  if (schema.subcommands) {
    expect(discord.options?.map((o) => o.name)).toEqual(schema.subcommands.map((s) => s.name));
    for (const sub of schema.subcommands) {
      const generated = discord.options?.find((o) => o.name === sub.name);
      expect(generated?.type).toBe(1);
      expect(generated?.options?.map((o) => o.name) ?? []).toEqual(sub.options.map((o) => o.name));
      for (const option of sub.options) {
        expectSameOption(
          generated?.options?.find((o) => o.name === option.name),
          option,
        );
      }
    }
  } else {
    expect(discord.options?.map((o) => o.name) ?? []).toEqual((schema.options ?? []).map((o) => o.name));
    for (const option of schema.options ?? []) {
      expectSameOption(
        discord.options?.find((o) => o.name === option.name),
        option,
      );
    }
  }
}

/** A value of the option's type, as Discord would hand it over. */
function typed(option: OptionSchema): string | number | boolean {
  if (option.kind === 'integer' || option.kind === 'number') return Number(option.example);
  if (option.kind === 'boolean') return true;
  return option.example ?? 'x';
}

describe('/imagine options: one schema', () => {
  it('generates the Discord definition from it', () => {
    expectSameCommand(IMAGINE_COMMAND);
  });

  it('reads every flag spelling from prompt text into the field the typed option fills', () => {
    expect(KNOWN_FLAGS).toEqual(IMAGINE_FLAG_OPTIONS.map((o) => o.flags[0]));
    for (const option of IMAGINE_FLAG_OPTIONS) {
      expect(option.example, option.name).toBeDefined();
      for (const flag of option.flags) {
        const text = parsePromptFlags(`a red circle ${flag} ${option.example}`);
        expect(text.errors, flag).toEqual([]);
        expect(text.prompt, flag).toBe('a red circle');
        expect(text[option.field], flag).toBe(option.example);
        expect(text.labels[option.field], flag).toBe(flag);
      }
      const options = fromDiscordOptions({ prompt: 'a red circle', [option.name]: typed(option) } as never);
      expect(options.errors, option.name).toEqual([]);
      expect(String(options[option.field]), option.name).toBe(option.example);
      expect(options.labels[option.field], option.name).toBe(option.name);
    }
  });

  it('names the schema example when a flag has no value', () => {
    for (const option of IMAGINE_FLAG_OPTIONS) {
      const [flag] = option.flags;
      expect(parsePromptFlags(`a cat ${flag}`).errors[0]?.message).toBe(
        `${flag}: needs a value, e.g. ${flag} ${option.example}`,
      );
    }
  });
});

describe('/settings options: one schema', () => {
  it('generates the Discord definition from it, the same under set and server', () => {
    expectSameCommand(SETTINGS_COMMAND);
  });

  it('reads each setting from text by its flag, with the same type and range as /imagine', () => {
    for (const option of SETTING_OPTIONS) {
      const parsed = parseSettingsText(`set ${option.flag} ${option.example}`);
      expect(parsed.op, option.flag).toBe('set');
      if (parsed.op !== 'set') continue;
      expect(parsed.raw.errors, option.flag).toEqual([]);
      expect(parsed.raw.values[option.key], option.flag).toBe(option.example);
      expect(parsed.raw.labels[option.key], option.flag).toBe(option.flag);
      if (option.key === 'remix') continue;
      const imagine = IMAGINE_FLAG_OPTIONS.find((o) => o.field === option.key);
      expect(imagine?.flags[0], option.key).toBe(option.flag);
      expect({ ...imagine, field: undefined, description: undefined, required: undefined }).toEqual({
        ...option,
        key: undefined,
        flag: undefined,
        description: undefined,
      });
    }
  });
});

describe('quota options: one schema', () => {
  it('generates the Discord definition from it', () => {
    expectSameCommand(QUOTA_COMMAND);
    const nsfw = QUOTA_COMMAND.subcommands?.find((s) => s.name === 'nsfw')?.options[0];
    expect(nsfw?.choices?.map((c) => c.value)).toEqual([...NSFW_POLICIES]);
  });

  it('stores a setting the same from Discord, from `set NAME N`, and from `NAME=N`, under every spelling', () => {
    for (const setting of TEXT_QUOTA_SETTINGS) {
      const n = setting.min ?? 1000;
      const expected = quotaChange(setting, n);
      if (!setting.textOnly) expect(quotaSetChanges({ [setting.name]: n })).toEqual(expected);
      for (const word of [setting.name, ...(setting.aliases ?? []), setting.name.toUpperCase()]) {
        const single = parseAdminCommand(`set ${word} ${n}`);
        expect(single, word).toEqual({ ok: true, operation: { op: 'set', setting: setting.name, value: n } });
        expect(parseAdminCommand(`set ${word}=${n}`), word).toEqual({
          ok: true,
          operation: { op: 'set-many', changes: expected },
        });
        expect(quotaChangesFromText(`${word}=${n}`), word).toEqual(expected);
      }
    }
  });

  it('keeps tier-only and scope-only settings where they apply', () => {
    const priority = QUOTA_SETTINGS.find((s) => s.appliesTo === 'tier')!;
    const dailyCap = QUOTA_SETTINGS.find((s) => s.appliesTo === 'scope')!;
    expect(quotaSetChanges({ [priority.name]: 3, allowance: 5 }, 'R1')).toEqual({
      tiers: { set: [{ role: 'R1', dailyAllowance: 5, priority: 3 }] },
    });
    expect(() => quotaSetChanges({ [priority.name]: 3 })).toThrow(/priority: set it for a role/);
    expect(() => quotaSetChanges({ [dailyCap.name]: 3 }, 'R1')).toThrow(/daily-cap: applies to the whole/);
    expect(parseAdminCommand(`set ${priority.name} 3`).ok).toBe(false);
    expect(() => quotaChangesFromText(`${priority.name}=3`)).toThrow(/unknown setting "priority"/);
  });
});
