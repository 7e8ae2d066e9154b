/**
 * Numbers arrive as JSON numbers (REST, Discord typed options) or as text (flags, and the hosted
 * APIs, whose clients often send "512"). Text must be a plain decimal: "12abc", "0x10", "1e3" and
 * "" are not numbers here, although `Number()` would accept some of them.
 */

const WHOLE_TEXT = /^[+-]?\d+(\.0*)?$/;
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** A whole number (possibly out of any range), or undefined when the value is not one. */
export function readWholeNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string' && WHOLE_TEXT.test(value.trim())) return Number(value.trim());
  return undefined;
}

/** A finite number (possibly out of any range), or undefined when the value is not one. */
export function readNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && DECIMAL_TEXT.test(value.trim())) return Number(value.trim());
  return undefined;
}

/** How a rejected value is quoted back in a message: text in quotes (cut short), numbers as they are. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(clipText(value, 40));
  if (typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  return Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * The text of a single value (a string trimmed; a number, boolean or null as JSON writes it), or
 * undefined for lists and objects. `String()` would join a list's items, recursing as deep as the
 * client nested them, which overflows the stack on a 10,000-deep list.
 */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return undefined;
}

/**
 * The first `max` code points of `text`, with "..." when it was longer. Looks at no more of the text
 * than it keeps, so quoting a 15 MB value back costs nothing.
 */
export function clipText(text: string, max: number): string {
  const head = [...text.slice(0, max * 2)];
  return head.length > max || text.length > max * 2 ? `${head.slice(0, max).join('')}...` : text;
}
