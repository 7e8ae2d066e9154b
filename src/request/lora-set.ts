import { EMBEDDINGS_MAX, LORA_STRENGTH_LIMIT, LORAS_MAX } from './limits.ts';
import { describeValue, readNumber } from './number-values.ts';
import type { LoraChoice } from './types.ts';

/**
 * The LoRAs a request names, however its frontend wrote them: AUTOMATIC1111's `<lora:name:0.8>`
 * inside the prompt (every frontend), the `--lora name:0.8, other` flag, the hosted APIs'
 * `lora_model: "a,b"` with `lora_strength: "0.8,0.5"`, or a JSON list of `{name, strength}`.
 * A name without a strength gets 1, as in A1111.
 */

/** `<lora:name>`, `<lora:name:0.8>`, and A1111's `<lora:name:te:unet>` (one strength is used for both). */
const TAG = /<lora:([^:<>]*)(?::([^:<>]*))?(?::[^<>]*)?>/gi;

/** Names as they are files in MODELS_DIR/loras: no path separators, nothing hidden. */
export const ADD_ON_NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_.\- ]{0,99}$/u;

/** Where a LoRA was named, so a problem is told under the member's own name for that field. */
export type AddOnField = 'prompt' | 'loras' | 'loraStrength';

export interface AddOnProblem {
  field: AddOnField;
  /** Without the field's label, which the validator adds. */
  message: string;
}

export interface LoraText {
  name: string;
  /** As written; undefined for none (strength 1). */
  strength?: unknown;
}

/** The prompt without its `<lora:…>` tags, and the tags in the order written. */
export function extractLoraTags(prompt: string): { prompt: string; tags: LoraText[] } {
  const tags: LoraText[] = [];
  const stripped = prompt.replace(TAG, (_, name: string, strength: string | undefined) => {
    tags.push(strength === undefined ? { name: name.trim() } : { name: name.trim(), strength });
    return ' ';
  });
  if (tags.length === 0) return { prompt, tags };
  return {
    prompt: stripped
      .replace(/[ \t]{2,}/g, ' ')
      .replace(/\s+([,.])/g, '$1')
      .trim(),
    tags,
  };
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/**
 * `name:0.8, other` (the flag), `"a,b"` with strengths `"0.8,0.5"` or one number for all (the hosted
 * APIs), or a list of names or `{name, strength}` objects. Problems are described, not thrown.
 */
export function readLoraList(
  value: unknown,
  strengths: unknown,
): { loras: LoraText[]; problems: AddOnProblem[] } {
  const problems: AddOnProblem[] = [];
  const loras: LoraText[] = [];
  if (typeof value === 'string') {
    for (const part of splitList(value)) {
      const colon = part.lastIndexOf(':');
      if (colon > 0 && readNumber(part.slice(colon + 1)) !== undefined)
        loras.push({ name: part.slice(0, colon).trim(), strength: part.slice(colon + 1) });
      else loras.push({ name: part });
    }
  } else if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item === 'string') loras.push({ name: item.trim() });
      else if (
        typeof item === 'object' &&
        item !== null &&
        typeof (item as { name?: unknown }).name === 'string'
      ) {
        const { name, strength } = item as { name: string; strength?: unknown };
        loras.push(strength === undefined ? { name: name.trim() } : { name: name.trim(), strength });
      } else
        problems.push({
          field: 'loras',
          message: `each item must be a LoRA name or {"name", "strength"} (got ${describeValue(item)})`,
        });
    }
  } else {
    problems.push({
      field: 'loras',
      message: `must be LoRA names separated by commas (got ${describeValue(value)})`,
    });
  }
  if (strengths !== undefined) {
    const list =
      typeof strengths === 'number'
        ? [strengths]
        : typeof strengths === 'string'
          ? splitList(strengths)
          : Array.isArray(strengths)
            ? strengths
            : undefined;
    if (list === undefined) {
      problems.push({
        field: 'loraStrength',
        message: `must be a number or numbers separated by commas (got ${describeValue(strengths)})`,
      });
    } else if (list.length === 1) {
      for (const lora of loras) lora.strength ??= list[0];
    } else if (list.length !== loras.length) {
      problems.push({
        field: 'loraStrength',
        message: `gives ${list.length} strengths for ${loras.length} LoRAs; give one for all or one for each`,
      });
    } else {
      for (const [i, lora] of loras.entries()) lora.strength ??= list[i];
    }
  }
  return { loras, problems };
}

/** Checks names and strengths and joins the LoRAs of every source, refusing one named twice. */
export function checkLoras(loras: { text: LoraText; field: AddOnField }[]): {
  loras: LoraChoice[];
  problems: AddOnProblem[];
} {
  const problems: AddOnProblem[] = [];
  const out: LoraChoice[] = [];
  for (const { text, field } of loras) {
    if (!ADD_ON_NAME.test(text.name)) {
      problems.push({
        field,
        message: `${describeValue(text.name)} is not a LoRA name (letters, digits, spaces, "_", "-" and "."; up to 100)`,
      });
      continue;
    }
    const strength = text.strength === undefined ? 1 : readNumber(text.strength);
    if (strength === undefined || Math.abs(strength) > LORA_STRENGTH_LIMIT) {
      problems.push({
        field,
        message: `the strength of LoRA "${text.name}" must be a number from -${LORA_STRENGTH_LIMIT} to ${LORA_STRENGTH_LIMIT} (got ${describeValue(text.strength)})`,
      });
      continue;
    }
    if (out.some((l) => l.name === text.name)) {
      problems.push({ field, message: `LoRA "${text.name}" is named twice; name it once with one strength` });
      continue;
    }
    out.push({ name: text.name, strength });
  }
  if (out.length > LORAS_MAX) {
    problems.push({
      field: loras[0]!.field,
      message: `at most ${LORAS_MAX} LoRAs at once (got ${out.length})`,
    });
  }
  return { loras: out, problems };
}

/** Embeddings named explicitly (the hosted APIs' `embeddings_model`): a comma list or a JSON list. */
export function readEmbeddingNames(value: unknown): { names: string[]; problems: string[] } {
  const items = typeof value === 'string' ? splitList(value) : Array.isArray(value) ? value : undefined;
  if (items === undefined)
    return {
      names: [],
      problems: [`must be embedding names separated by commas (got ${describeValue(value)})`],
    };
  const names: string[] = [];
  const problems: string[] = [];
  for (const item of items) {
    const name = typeof item === 'string' ? item.trim() : undefined;
    if (name === undefined || !ADD_ON_NAME.test(name)) {
      problems.push(`${describeValue(item)} is not an embedding name`);
    } else if (!names.includes(name)) names.push(name);
  }
  if (names.length > EMBEDDINGS_MAX)
    problems.push(`at most ${EMBEDDINGS_MAX} embeddings at once (got ${names.length})`);
  return { names, problems };
}
