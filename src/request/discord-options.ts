import { IMAGINE_FLAG_OPTIONS, type ImagineOptionName } from '../../commands/imagine-options.ts';
import { parsePromptFlags } from './prompt-flags.ts';
import { isAbsent, type RawRequest } from './raw-request.ts';

/**
 * Discord's `/imagine` options, already typed by Discord (integers, numbers, strings), by the names
 * commands/imagine-options.ts gives them. The option names are what members see, so messages use
 * them. The `prompt` text may still carry flags. (The attached image is read apart.)
 */
export type DiscordImagineOptions = Partial<Record<Exclude<ImagineOptionName, 'image'>, string | number>>;

/** A raw request from typed options plus any flags in the prompt; a value given both ways is an error. */
export function fromDiscordOptions(options: DiscordImagineOptions): RawRequest {
  const raw = parsePromptFlags(String(options.prompt ?? ''));
  raw.labels.prompt = 'prompt';
  for (const { name, field } of IMAGINE_FLAG_OPTIONS) {
    const value = options[name as keyof DiscordImagineOptions];
    if (isAbsent(value)) continue;
    const flag = raw.labels[field];
    if (flag !== undefined) {
      raw.errors.push({
        field: name,
        message: `${name}: given both as the ${name} option and as ${flag} in the prompt; use one`,
      });
      continue;
    }
    raw[field] = value;
    raw.labels[field] = name;
  }
  return raw;
}
