import { readPngText } from '../../../engine/png-text.ts';

/**
 * `/sdapi/v1/png-info`: the `parameters` text of a PNG (what easel's renders carry, as A1111's do),
 * its other text entries as `items`, and the text parsed into A1111's `parameters` dictionary
 * (`Prompt`, `Negative prompt`, then each `Key: value` pair; `Size` also as `Size-1` and `Size-2`).
 */

export interface PngInfo {
  info: string;
  items: Record<string, string>;
  parameters: Record<string, string>;
}

/** The `Key: value` pairs of an infotext's last line; values may be JSON-quoted (they hold commas). */
const PAIR = /\s*([\w ][\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

function unquote(value: string): string {
  if (!value.startsWith('"')) return value.trim();
  try {
    return String(JSON.parse(value));
  } catch {
    return value;
  }
}

export function parseInfotext(text: string): Record<string, string> {
  const lines = text.trim().split('\n');
  const last = lines.at(-1) ?? '';
  const hasPairs = lines.length > 1 && [...last.matchAll(PAIR)].length >= 3;
  const settings = hasPairs ? (lines.pop() ?? '') : '';
  const prompt: string[] = [];
  const negative: string[] = [];
  let inNegative = false;
  for (const line of lines) {
    if (line.startsWith('Negative prompt:')) {
      inNegative = true;
      negative.push(line.slice('Negative prompt:'.length).trim());
    } else (inNegative ? negative : prompt).push(line);
  }
  const parameters: Record<string, string> = {
    Prompt: prompt.join('\n').trim(),
    'Negative prompt': negative.join('\n').trim(),
  };
  for (const match of settings.matchAll(PAIR)) {
    const key = match[1]!.trim();
    const value = unquote(match[2]!.trim());
    parameters[key] = value;
    const size = /^(\d+)x(\d+)$/.exec(value);
    if (size) {
      parameters[`${key}-1`] = size[1]!;
      parameters[`${key}-2`] = size[2]!;
    }
  }
  return parameters;
}

export function pngInfo(png: Buffer): PngInfo {
  const { parameters: info = '', ...items } = readPngText(png);
  return { info, items, parameters: info === '' ? {} : parseInfotext(info) };
}
