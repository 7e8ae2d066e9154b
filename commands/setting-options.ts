import {
  ASPECT_RATIOS,
  COUNT_MAX,
  COUNT_MIN,
  GUIDANCE_MAX,
  GUIDANCE_MIN,
  PROMPT_MAX_CHARS,
} from '../src/request/limits.ts';

/**
 * `/settings`' options, declared once (data only, so Discord's command definitions can be built
 * from them without loading the validator): Discord's options are generated from this list and
 * Slack's and the CLI's text is read with it (commands/settings.ts).
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

export interface SettingOption {
  key: SettingKey;
  /** The Discord option's name, and the word members see in `/settings show`. */
  name: string;
  /** The flag that sets it in text (Slack, the CLI), the same flag `/imagine` takes. */
  flag: string;
  kind: 'string' | 'integer' | 'number' | 'boolean';
  description: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  maxLength?: number;
}

const STEPS_SETTING_MAX = 150;

export const SETTING_OPTIONS: readonly SettingOption[] = [
  { key: 'model', name: 'model', flag: '--model', kind: 'string', description: 'Model', maxLength: 100 },
  {
    key: 'aspect',
    name: 'aspect',
    flag: '--ar',
    kind: 'string',
    description: 'Aspect ratio',
    choices: ASPECT_RATIOS,
  },
  {
    key: 'count',
    name: 'count',
    flag: '--n',
    kind: 'integer',
    description: 'Images per prompt (1-4)',
    min: COUNT_MIN,
    max: COUNT_MAX,
  },
  {
    key: 'sampler',
    name: 'sampler',
    flag: '--sampler',
    kind: 'string',
    description: 'Sampler',
    maxLength: 100,
  },
  {
    key: 'steps',
    name: 'steps',
    flag: '--steps',
    kind: 'integer',
    description: 'Denoising steps',
    min: 1,
    max: STEPS_SETTING_MAX,
  },
  {
    key: 'guidance',
    name: 'guidance',
    flag: '--cfg',
    kind: 'number',
    description: 'Guidance (CFG scale)',
    min: GUIDANCE_MIN,
    max: GUIDANCE_MAX,
  },
  {
    key: 'negativePrompt',
    name: 'negative',
    flag: '--no',
    kind: 'string',
    description: 'Negative prompt added to every prompt',
    maxLength: PROMPT_MAX_CHARS,
  },
  {
    key: 'remix',
    name: 'remix',
    flag: '--remix',
    kind: 'boolean',
    description: 'Remix: V1-V4 and Reroll first let you edit the prompt',
  },
];
