import { IMAGINE_FLAG_OPTIONS } from '../../commands/imagine-options.ts';
import type { FieldError } from '../errors/user-error.ts';
import { emptyRawRequest, type RawRequest } from './raw-request.ts';

/**
 * Midjourney-style flags inside prompt text, as Slack, the CLI and Discord's `prompt` field carry
 * them: `a lighthouse on a cliff --ar 16:9 --seed 42 --no "boats, people"`.
 *
 * Grammar: the prompt is the text before the first flag. A flag is `--name` at the start of the
 * text or after whitespace (`--name=value` works too); its value is everything up to the next flag,
 * so `--no blurry, text` and `--sampler Euler a` need no quotes. A value may be quoted ("...",
 * '...' or curly quotes) to hold text that looks like a flag. Phones turn `--` into an em dash, so
 * `—ar` (and the en dash `–ar`) count as flags too, but only before a known flag name: a dash in
 * prose ("a cat —sleeping") stays prose.
 */

/** Each spelling of each flag (`ar` and `aspect`), from `/imagine`'s one option schema. */
const FLAGS = new Map(
  IMAGINE_FLAG_OPTIONS.flatMap((option) => option.flags.map((flag) => [flag.slice(2), option] as const)),
);

/** The flags as help and messages list them: each option's first spelling. */
export const KNOWN_FLAGS = IMAGINE_FLAG_OPTIONS.map((option) => option.flags[0]!);

const QUOTES: Record<string, string[]> = {
  '"': ['"'],
  "'": ["'"],
  '\u201c': ['\u201d', '"'],
  '\u2018': ['\u2019', "'"],
  '\u201e': ['\u201c', '\u201d'],
};

interface FlagAt {
  /** Where the flag starts (its dashes) and where its value may begin. */
  start: number;
  valueStart: number;
  name: string;
}

/** A flag starting exactly at `i`, or undefined. */
function flagAt(text: string, i: number): FlagAt | undefined {
  if (i > 0 && !/\s/.test(text[i - 1]!)) return undefined;
  let dashes: number;
  if (text.startsWith('--', i)) dashes = 2;
  else if (text[i] === '\u2014' || text[i] === '\u2013') dashes = 1;
  else return undefined;
  const match = /^[A-Za-z][A-Za-z0-9_-]*/.exec(text.slice(i + dashes));
  if (!match) return undefined;
  const name = match[0].toLowerCase();
  // A typed dash before a word that is not a flag is punctuation, not a mistake to report.
  if (dashes === 1 && !FLAGS.has(name)) return undefined;
  let valueStart = i + dashes + match[0].length;
  const next = text[valueStart];
  if (next !== undefined && next !== '=' && !/\s/.test(next)) return undefined;
  if (next === '=') valueStart += 1;
  return { start: i, valueStart, name };
}

function nextFlag(text: string, from: number): FlagAt | undefined {
  for (let i = from; i < text.length; i++) {
    const flag = flagAt(text, i);
    if (flag) return flag;
  }
  return undefined;
}

interface ValueRead {
  value: string;
  end: number;
  error?: string;
}

/**
 * Reads a flag's value starting at `from`: a quoted string, or the text up to the next flag.
 * `lastIndex` (each quote's last position in the text, cached per parse) answers "is this quote
 * ever closed?" at once, so text full of unclosed quotes is still read in linear time.
 */
function readValue(text: string, from: number, lastIndex: (quote: string) => number): ValueRead {
  let i = from;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  const open = text[i];
  const closers = open === undefined ? undefined : QUOTES[open];
  if (closers) {
    let close = -1;
    if (closers.some((c) => lastIndex(c) > i)) {
      for (let j = i + 1; j < text.length; j++) {
        if (closers.includes(text[j]!)) {
          close = j;
          break;
        }
      }
    }
    if (close < 0) {
      const end = nextFlag(text, i + 1)?.start ?? text.length;
      return { value: '', end, error: `the quote opened with ${open} is never closed` };
    }
    const value = text.slice(i + 1, close);
    const after = nextFlag(text, close + 1)?.start ?? text.length;
    const trailing = text.slice(close + 1, after).trim();
    if (trailing !== '') {
      return { value, end: after, error: `unexpected text after the quoted value: "${trailing}"` };
    }
    return { value, end: after };
  }
  const end = nextFlag(text, i)?.start ?? text.length;
  return { value: text.slice(i, end).trim(), end };
}

/** More than this many flag problems is a paste gone wrong: the rest are counted, not listed. */
const MAX_FLAG_ERRORS = 10;

/**
 * Splits prompt text into the prompt and its flags. Never throws: unknown flags, flags without a
 * value, repeated flags and unclosed quotes become `errors` for `validateRequest` to report with
 * everything else that is wrong.
 */
export function parsePromptFlags(text: string): RawRequest {
  const raw = emptyRawRequest();
  const errors: FieldError[] = raw.errors;
  const first = nextFlag(text, 0);
  raw.prompt = text.slice(0, first?.start ?? text.length).trim();
  const lastIndexes = new Map<string, number>();
  const lastIndex = (quote: string) => {
    let at = lastIndexes.get(quote);
    if (at === undefined) {
      at = text.lastIndexOf(quote);
      lastIndexes.set(quote, at);
    }
    return at;
  };
  let flag = first;
  while (flag) {
    const label = `--${flag.name}`;
    const read = readValue(text, flag.valueStart, lastIndex);
    const option = FLAGS.get(flag.name);
    if (option === undefined) {
      errors.push({
        field: label,
        message: `${label}: unknown flag; the flags are ${KNOWN_FLAGS.join(', ')}`,
      });
    } else if (read.error) {
      errors.push({ field: label, message: `${label}: ${read.error}` });
    } else if (read.value.trim() === '') {
      errors.push({
        field: label,
        message: `${label}: needs a value, e.g. ${option.flags[0]} ${option.example ?? ''}`.trimEnd(),
      });
    } else if (raw.labels[option.field] !== undefined) {
      errors.push({
        field: label,
        message: `${label}: given more than once (also as ${raw.labels[option.field]})`,
      });
    } else {
      raw[option.field] = read.value.trim();
      raw.labels[option.field] = label;
    }
    flag = read.end < text.length ? flagAt(text, read.end) : undefined;
  }
  if (errors.length > MAX_FLAG_ERRORS) {
    const more = errors.length - MAX_FLAG_ERRORS;
    errors.splice(MAX_FLAG_ERRORS, more, {
      field: 'flags',
      message: `flags: ${more} more problems like the ones above; check the flags after the prompt`,
    });
  }
  return raw;
}
