/**
 * Prompts are counted in code points (what a member sees as characters, mostly) and must show at
 * least one: a prompt of only zero-width spaces, joiners, direction marks, combining marks or blank
 * fillers looks empty to the member and draws nothing they asked for.
 */

/**
 * Whitespace, controls, format characters (zero-width space, joiners, direction marks, BOM),
 * combining marks on nothing, private-use and unassigned code points, and the characters that
 * render as blanks although Unicode calls them letters or symbols (Hangul fillers, the braille
 * blank, the Mongolian vowel separator).
 */
const INVISIBLE = /^[\p{White_Space}\p{Cc}\p{Cf}\p{M}\p{Co}\p{Cn}\u115f\u1160\u3164\uffa0\u2800\u180e]*$/u;

export function hasVisibleCharacter(text: string): boolean {
  return !INVISIBLE.test(text);
}

/** Code points of `text`, without building an array of them (prompts may arrive megabytes long). */
export function codePointCount(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point in two units.
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        i++;
      }
    }
  }
  return count;
}
