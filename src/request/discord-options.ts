import { parsePromptFlags } from './prompt-flags.ts';
import { isAbsent, type RawRequest, type ValueField } from './raw-request.ts';

/**
 * Discord's `/imagine` options, already typed by Discord (integers, numbers, strings). The option
 * names are what members see, so messages use them. The `prompt` text may still carry flags.
 */
export interface DiscordImagineOptions {
  prompt?: string;
  negative?: string;
  aspect?: string;
  seed?: number;
  steps?: number;
  guidance?: number;
  sampler?: string;
  model?: string;
  count?: number;
  strength?: number;
  repeat?: number;
}

const OPTION_FIELDS: [keyof DiscordImagineOptions, ValueField][] = [
  ['negative', 'negativePrompt'],
  ['aspect', 'aspect'],
  ['seed', 'seed'],
  ['steps', 'steps'],
  ['guidance', 'guidance'],
  ['sampler', 'sampler'],
  ['model', 'model'],
  ['count', 'count'],
  ['strength', 'strength'],
  ['repeat', 'repeat'],
];

/** A raw request from typed options plus any flags in the prompt; a value given both ways is an error. */
export function fromDiscordOptions(options: DiscordImagineOptions): RawRequest {
  const raw = parsePromptFlags(options.prompt ?? '');
  raw.labels.prompt = 'prompt';
  for (const [option, field] of OPTION_FIELDS) {
    const value = options[option];
    if (isAbsent(value)) continue;
    const flag = raw.labels[field];
    if (flag !== undefined) {
      raw.errors.push({
        field: option,
        message: `${option}: given both as the ${option} option and as ${flag} in the prompt; use one`,
      });
      continue;
    }
    raw[field] = value;
    raw.labels[field] = option;
  }
  return raw;
}
