import { IMAGINE_OPTIONS, type ImagineOption } from './imagine-options.ts';
import type { CommandSchema, OptionSchema } from './option-schema.ts';

/**
 * `/settings`' options, declared once (data only, so Discord's command definitions can be built
 * from them without loading the validator): Discord's options are generated from this list and
 * Slack's and the CLI's text is read with it (commands/settings.ts). A setting that fills an
 * `/imagine` option is that option (same type, range, choices and flag), described for /settings.
 */

/** The request fields a setting fills, and Remix, which changes what V1-V4 and Reroll do. */
export interface SettingValues {
  model?: string;
  aspect?: string;
  count?: number;
  sampler?: string;
  steps?: number;
  guidance?: number;
  negativePrompt?: string;
  remix?: boolean;
}

export type SettingKey = keyof SettingValues;

export interface SettingOption extends OptionSchema {
  key: SettingKey;
  /** The flag that sets it in text (Slack, the CLI), the same flag `/imagine` takes. */
  flag: string;
}

/** The `/imagine` option that fills `key`, described as a setting. */
function imagineSetting(key: Exclude<SettingKey, 'remix'>, description: string): SettingOption {
  const option = (IMAGINE_OPTIONS as readonly ImagineOption[]).find((o) => o.field === key);
  const flag = option?.flags?.[0];
  if (!option || !flag) throw new Error(`/imagine has no option with a flag for the setting ${key}`);
  const { field: _field, required: _required, ...schema } = option;
  return { ...schema, key, flag, description };
}

export const SETTING_OPTIONS: readonly SettingOption[] = [
  imagineSetting('model', 'Model'),
  imagineSetting('aspect', 'Aspect ratio'),
  imagineSetting('count', 'Images per prompt (1-4)'),
  imagineSetting('sampler', 'Sampler'),
  imagineSetting('steps', 'Denoising steps'),
  imagineSetting('guidance', 'Guidance (CFG scale)'),
  imagineSetting('negativePrompt', 'Negative prompt added to every prompt'),
  {
    key: 'remix',
    name: 'remix',
    flag: '--remix',
    flags: ['--remix'],
    kind: 'boolean',
    description: 'Remix: V1-V4 and Reroll first let you edit the prompt',
    example: 'on',
  },
];

export const SETTINGS_COMMAND: CommandSchema = {
  name: 'settings',
  description: 'Your /imagine defaults: model, aspect, image count, sampler, steps, guidance, Remix',
  subcommands: [
    { name: 'show', description: 'Show your settings and the server’s', options: [] },
    {
      name: 'set',
      description: 'Change your defaults (what you leave out of /imagine)',
      options: SETTING_OPTIONS,
    },
    { name: 'reset', description: 'Forget your settings', options: [] },
    {
      name: 'server',
      description: 'Server admins: the server’s defaults (e.g. count 4)',
      options: SETTING_OPTIONS,
    },
    { name: 'server-reset', description: 'Server admins: forget the server’s defaults', options: [] },
  ],
};
