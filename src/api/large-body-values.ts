/**
 * Image fields too long to pass through `JSON.parse`. Parsing a 20 MB base64 string, then making it
 * one JS string, then decoding or hashing it in one call each block the event loop for 70-140 ms;
 * ~1 MB pieces of the same work cost well under a millisecond each. So the body reader keeps such a
 * value's bytes aside as the pieces they arrived in, and the routes work through them piece by piece.
 *
 * The interface between the reader and the routes:
 * - where a top-level image field held a string longer than `maxStringBytes`, the parsed body holds
 *   `LARGE_VALUE_PLACEHOLDER` instead: the route schema (`type: string`) and the shared validator see
 *   that a string was given, and nothing else reads an image field's text;
 * - the value itself travels beside the body in `request.largeValues` (field name to `LargeValue`);
 * - readers of an image field ask `heldValue`, which answers the held bytes only where the body still
 *   holds the placeholder: a later duplicate of the field wins, as it does in `JSON.parse`;
 * - a field holding a list of images (AUTOMATIC1111's `init_images`) has its long items held as
 *   `field[i]`, read with `heldItem`.
 */

export interface LargeValue {
  /** The value's UTF-8 bytes (its JSON escapes undone), in order. */
  chunks: Buffer[];
  /** Their total length. */
  length: number;
}

export type LargeValues = ReadonlyMap<string, LargeValue>;

export const LARGE_VALUE_PLACEHOLDER = '(a large value, held aside)';

/** The held value of a top-level field, when the body's value for it is the one held aside. */
export function heldValue(
  body: Record<string, unknown>,
  largeValues: LargeValues | undefined,
  field: string,
): LargeValue | undefined {
  const held = largeValues?.get(field);
  return held && body[field] === LARGE_VALUE_PLACEHOLDER ? held : undefined;
}

/** The name a list item is held under: `init_images[0]`. */
export function listItemName(field: string, index: number): string {
  return `${field}[${index}]`;
}

/** The held value of item `index` of a top-level list field, when the body's item is the one held aside. */
export function heldItem(
  body: Record<string, unknown>,
  largeValues: LargeValues | undefined,
  field: string,
  index: number,
): LargeValue | undefined {
  const list = body[field];
  const held = largeValues?.get(listItemName(field, index));
  return held && Array.isArray(list) && list[index] === LARGE_VALUE_PLACEHOLDER ? held : undefined;
}
