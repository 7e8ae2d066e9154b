/**
 * Permutation prompts, as Midjourney writes them: `a {red, blue} {circle, square}` is four prompts
 * (a red circle, a red square, a blue circle, a blue square), one job each. Braces may hold flags
 * too (`--ar {1:1, 16:9}`), since the whole text is expanded before its flags are read. A comma
 * inside an option is written `\,`. Groups do not nest.
 */

/** The most jobs one message may start (permutations times --repeat), as Midjourney's Standard plan. */
export const BATCH_MAX = 8;

export type Expansion = { ok: true; texts: string[] } | { ok: false; message: string };

interface Group {
  start: number;
  end: number;
  options: string[];
}

function splitOptions(body: string): string[] {
  const options: string[] = [];
  let current = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && body[i + 1] === ',') {
      current += ',';
      i++;
    } else if (c === ',') {
      options.push(current.trim());
      current = '';
    } else current += c;
  }
  options.push(current.trim());
  return options;
}

/** The brace groups of a text, or why they are malformed. */
function groupsOf(text: string): { ok: true; groups: Group[] } | { ok: false; message: string } {
  const groups: Group[] = [];
  let open = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      if (open >= 0) {
        return { ok: false, message: 'permutations: a { inside another { … }; groups cannot be nested' };
      }
      open = i;
    } else if (c === '}') {
      if (open < 0) return { ok: false, message: 'permutations: a } without its {' };
      const options = splitOptions(text.slice(open + 1, i));
      if (options.every((o) => o === '')) {
        return { ok: false, message: 'permutations: an empty { }; list the options, e.g. {red, blue}' };
      }
      groups.push({ start: open, end: i + 1, options });
      open = -1;
    }
  }
  if (open >= 0) return { ok: false, message: 'permutations: a { that is never closed with }' };
  return { ok: true, groups };
}

/**
 * Every text the permutations make, in reading order (the first group varies slowest). Refuses
 * more than `max` texts before building them, so `{a,b,c,d}{a,b,c,d}{…}` costs nothing to refuse.
 */
export function expandPermutations(text: string, max = BATCH_MAX): Expansion {
  const found = groupsOf(text);
  if (!found.ok) return found;
  const { groups } = found;
  if (groups.length === 0) return { ok: true, texts: [text] };
  const total = groups.reduce((n, g) => n * g.options.length, 1);
  if (total > max) {
    return {
      ok: false,
      message: `permutations: these braces make ${total} prompts; at most ${max} at once`,
    };
  }
  let texts = [''];
  let at = 0;
  for (const group of groups) {
    const before = text.slice(at, group.start);
    texts = texts.flatMap((t) => group.options.map((option) => `${t}${before}${option}`));
    at = group.end;
  }
  const tail = text.slice(at);
  return { ok: true, texts: texts.map((t) => `${t}${tail}`.replace(/\s{2,}/g, ' ').trim()) };
}
