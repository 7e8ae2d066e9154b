import { MAX_PRIORITY, MAX_STEPS_LIMIT, NSFW_POLICIES, type Tier } from '../src/quotas/quota-policy.ts';
import { type CommandSchema, type OptionSchema, plainChoices } from './option-schema.ts';

/**
 * The quota command's options, declared once: Discord's `/quota` is generated from
 * `QUOTA_COMMAND`, and the settings an admin types as text (Slack's `/imagine-admin set`, the
 * CLI's `name=value`) are read with `QUOTA_SETTINGS`, so every platform uses the same words.
 */

export interface QuotaSetting extends OptionSchema {
  kind: 'integer';
  /** The field of the policy (and of a role's tier) the number is stored in. */
  field: Exclude<keyof Tier, 'role'> | 'dailyCap';
  /** Other words admins type for it. */
  aliases?: readonly string[];
  /** The number as stored, when the admin types something else (a side for a pixel count). */
  stored?: (typed: number) => number;
  /** `tier`: only for a role (`priority`); `scope`: only for the whole scope (`daily-cap`). */
  appliesTo: 'both' | 'tier' | 'scope';
  /** Only in text: Discord already offers the same limit in the words admins think in. */
  textOnly?: boolean;
}

export const QUOTA_SETTINGS: readonly QuotaSetting[] = [
  {
    name: 'allowance',
    kind: 'integer',
    field: 'dailyAllowance',
    description: 'Daily credits each member gets (per UTC day)',
    min: 0,
    max: 1_000_000,
    appliesTo: 'both',
  },
  {
    name: 'cooldown',
    kind: 'integer',
    field: 'cooldownS',
    description: 'Seconds between two requests of a member',
    min: 0,
    max: 86_400,
    appliesTo: 'both',
  },
  {
    name: 'pending-cap',
    kind: 'integer',
    field: 'pendingCap',
    description: 'Jobs a member may have waiting at once',
    aliases: ['pending'],
    min: 1,
    max: 1000,
    appliesTo: 'both',
  },
  {
    name: 'max-size',
    kind: 'integer',
    field: 'maxPixels',
    description: 'Largest image side in pixels (limits width x height)',
    aliases: ['max-side'],
    stored: (side) => side * side,
    min: 64,
    max: 8192,
    appliesTo: 'both',
  },
  {
    name: 'max-pixels',
    kind: 'integer',
    field: 'maxPixels',
    description: 'Largest image as width x height in pixels',
    appliesTo: 'both',
    textOnly: true,
  },
  {
    name: 'max-steps',
    kind: 'integer',
    field: 'maxSteps',
    description: 'Most denoising steps a request may take',
    min: 1,
    max: MAX_STEPS_LIMIT,
    appliesTo: 'both',
  },
  {
    name: 'priority',
    kind: 'integer',
    field: 'priority',
    description: 'Role priority 0-9 (with a role)',
    min: 0,
    max: MAX_PRIORITY,
    appliesTo: 'tier',
  },
  {
    name: 'daily-cap',
    kind: 'integer',
    field: 'dailyCap',
    description: 'Credits all members together may spend per UTC day (0 = no cap)',
    min: 0,
    max: 100_000_000,
    appliesTo: 'scope',
  },
];

/** The settings a text command names (no role can be given there, so no tier-only setting). */
export const TEXT_QUOTA_SETTINGS = QUOTA_SETTINGS.filter((s) => s.appliesTo !== 'tier');

/** A setting by the word an admin typed (its name or an alias, any case); undefined if none. */
export function quotaSettingNamed(word: string): QuotaSetting | undefined {
  const lower = word.toLowerCase();
  return TEXT_QUOTA_SETTINGS.find((s) => s.name === lower || s.aliases?.includes(lower));
}

const member = (description: string): OptionSchema => ({
  name: 'member',
  kind: 'user',
  description,
  required: true,
});

export const QUOTA_COMMAND: CommandSchema = {
  name: 'quota',
  description: 'Server admins: credits, cooldowns, limits, NSFW policy, banned words, suspensions',
  adminOnly: true,
  subcommands: [
    { name: 'show', description: 'Show this server’s quota policy', options: [] },
    {
      name: 'set',
      description: 'Change the defaults, or the limits of one role when a role is given',
      options: [
        { name: 'role', kind: 'role', description: 'Apply to members with this role (a tier)' },
        ...QUOTA_SETTINGS.filter((s) => !s.textOnly),
      ],
    },
    {
      name: 'remove-tier',
      description: 'Remove the limits set for a role',
      options: [{ name: 'role', kind: 'role', description: 'The role', required: true }],
    },
    {
      name: 'grant',
      description: 'Give a member credits (they never expire)',
      options: [
        member('Who'),
        {
          name: 'amount',
          kind: 'integer',
          description: 'Credits',
          required: true,
          min: -1_000_000,
          max: 1_000_000,
        },
        { name: 'reason', kind: 'string', description: 'Shown in their history', maxLength: 200 },
      ],
    },
    {
      name: 'nsfw',
      description: 'What to do with images the safety checker flags',
      options: [
        {
          name: 'policy',
          kind: 'string',
          description:
            'block: blank image; spoiler: hidden behind a spoiler; or allow in age-restricted channels',
          required: true,
          choices: plainChoices(NSFW_POLICIES),
        },
      ],
    },
    {
      name: 'banned-words',
      description: 'Refuse prompts with these words (comma-separated)',
      options: [
        { name: 'add', kind: 'string', description: 'Words or phrases to ban', maxLength: 1000 },
        { name: 'remove', kind: 'string', description: 'Words or phrases to allow again', maxLength: 1000 },
      ],
    },
    {
      name: 'suspend',
      description: 'Stop a member from generating in this server',
      options: [member('Who')],
    },
    {
      name: 'unsuspend',
      description: 'Let a suspended member generate again',
      options: [member('Who')],
    },
  ],
};
