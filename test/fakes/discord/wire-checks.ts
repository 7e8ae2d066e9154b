import type { UploadedFile } from './request-body.ts';

/**
 * The limits Discord enforces on what a bot sends (discord-api-docs), checked the way Discord
 * checks them: a violation is a 400 "Invalid Form Body" (code 50035) naming the field, or a 413
 * for files. The fake refuses what Discord would refuse, so a test cannot pass with a payload the
 * real API would reject.
 */
export class WireViolation extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  toBody(): Record<string, unknown> {
    const body: Record<string, unknown> = { message: this.message, code: this.code };
    if (this.field)
      body.errors = { [this.field]: { _errors: [{ code: 'BASE_TYPE_INVALID', message: this.message }] } };
    return body;
  }
}

const invalid = (field: string, message: string) =>
  new WireViolation(400, 50035, `Invalid Form Body: ${field}: ${message}`, field);

interface Component {
  type?: number;
  custom_id?: string;
  label?: string;
  style?: number;
  url?: string;
  components?: Component[];
  component?: Component;
  max_length?: number;
  value?: string;
  placeholder?: string;
}

export function checkMessagePayload(json: Record<string, unknown> | undefined, files: UploadedFile[]): void {
  if (!json) return;
  const content = json.content;
  if (typeof content === 'string' && content.length > 2000) {
    throw invalid('content', 'Must be 2000 or fewer in length.');
  }
  const embeds = json.embeds;
  if (Array.isArray(embeds) && embeds.length > 10) throw invalid('embeds', 'Must be 10 or fewer in length.');
  const components = json.components;
  if (Array.isArray(components)) checkActionRows(components as Component[]);
  if (files.length > 10) throw invalid('files', 'Must be 10 or fewer in length.');
}

function checkActionRows(rows: Component[]): void {
  if (rows.length > 5) throw invalid('components', 'Must be 5 or fewer in length.');
  const ids = new Set<string>();
  rows.forEach((row, r) => {
    if (row.type !== 1) throw invalid(`components.${r}.type`, 'Top-level components must be action rows.');
    const children = row.components ?? [];
    if (children.length < 1 || children.length > 5) {
      throw invalid(`components.${r}.components`, 'Must be between 1 and 5 in length.');
    }
    children.forEach((c, i) => {
      const at = `components.${r}.components.${i}`;
      if (c.type === 2) {
        if (c.label !== undefined && c.label.length > 80)
          throw invalid(`${at}.label`, 'Must be 80 or fewer in length.');
        if (c.style === 5) {
          if (!c.url) throw invalid(`${at}.url`, 'A link button needs a url.');
          return;
        }
      }
      checkCustomId(c.custom_id, at, ids);
    });
  });
}

function checkCustomId(id: string | undefined, at: string, seen: Set<string>): void {
  if (typeof id !== 'string' || id.length < 1 || id.length > 100) {
    throw invalid(`${at}.custom_id`, 'Must be between 1 and 100 in length.');
  }
  if (seen.has(id)) throw invalid(`${at}.custom_id`, 'Component custom id cannot be duplicated');
  seen.add(id);
}

/** A modal (callback type 9): title ≤ 45, custom_id, 1-5 components each holding one text input. */
export function checkModal(data: Record<string, unknown>): void {
  const title = data.title;
  if (typeof title !== 'string' || title.length < 1 || title.length > 45) {
    throw invalid('data.title', 'Must be between 1 and 45 in length.');
  }
  checkCustomId(data.custom_id as string | undefined, 'data', new Set());
  const components = data.components as Component[] | undefined;
  if (!Array.isArray(components) || components.length < 1 || components.length > 5) {
    throw invalid('data.components', 'Must be between 1 and 5 in length.');
  }
  const ids = new Set<string>();
  components.forEach((row, r) => {
    // Action row holding a text input (classic) or a label wrapping one (newer layout).
    const input = row.type === 1 ? row.components?.[0] : row.type === 18 ? row.component : undefined;
    if (input?.type !== 4) throw invalid(`data.components.${r}`, 'Expected a text input.');
    checkCustomId(input.custom_id, `data.components.${r}`, ids);
    if (input.max_length !== undefined && input.max_length > 4000) {
      throw invalid(`data.components.${r}.max_length`, 'Must be 4000 or less.');
    }
    if (input.placeholder !== undefined && input.placeholder.length > 100) {
      throw invalid(`data.components.${r}.placeholder`, 'Must be 100 or fewer in length.');
    }
  });
}

/** Autocomplete answers: at most 25 choices, names 1-100 characters. */
export function checkAutocomplete(data: Record<string, unknown>): void {
  const choices = data.choices as { name?: string }[] | undefined;
  if (!Array.isArray(choices) || choices.length > 25) {
    throw invalid('data.choices', 'Must be 25 or fewer in length.');
  }
  for (const [i, c] of choices.entries()) {
    if (typeof c.name !== 'string' || c.name.length < 1 || c.name.length > 100) {
      throw invalid(`data.choices.${i}.name`, 'Must be between 1 and 100 in length.');
    }
  }
}

/** Each file within the per-file limit, the whole request within 25 MiB (413, code 40005). */
export function checkFileSizes(files: UploadedFile[], perFileLimit: number, requestBytes: number): void {
  for (const f of files) {
    if (f.bytes.length > perFileLimit) {
      throw new WireViolation(413, 40005, `Request entity too large: ${f.name} is ${f.bytes.length} bytes`);
    }
  }
  if (requestBytes > 25 * 1024 * 1024) throw new WireViolation(413, 40005, 'Request entity too large');
}

interface CommandOption {
  name?: string;
  description?: string;
  options?: CommandOption[];
  choices?: unknown[];
}

/** Application commands (bulk overwrite): name 1-32 lowercase, description 1-100, ≤ 25 options and choices. */
export function checkCommands(commands: unknown): void {
  if (!Array.isArray(commands)) throw invalid('body', 'Expected an array of commands.');
  const names = new Set<string>();
  commands.forEach((c: CommandOption, i) => {
    checkCommandOption(c, `${i}`);
    if (names.has(c.name!)) throw invalid(`${i}.name`, 'Application command names must be unique');
    names.add(c.name!);
  });
}

function checkCommandOption(o: CommandOption, at: string): void {
  if (typeof o.name !== 'string' || !/^[-_\p{Ll}\p{N}]{1,32}$/u.test(o.name)) {
    throw invalid(`${at}.name`, 'Command name is invalid');
  }
  if (typeof o.description !== 'string' || o.description.length < 1 || o.description.length > 100) {
    throw invalid(`${at}.description`, 'Must be between 1 and 100 in length.');
  }
  if (o.options && o.options.length > 25) throw invalid(`${at}.options`, 'Must be 25 or fewer in length.');
  if (o.choices && o.choices.length > 25) throw invalid(`${at}.choices`, 'Must be 25 or fewer in length.');
  for (const [j, sub] of (o.options ?? []).entries()) checkCommandOption(sub, `${at}.options.${j}`);
}
