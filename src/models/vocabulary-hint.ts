import type { ModelEntry } from './registry.ts';

/**
 * The hint for a prompt a closed-vocabulary model (easel-mini) cannot follow: when no word of the
 * prompt is one the model was trained on, it renders a random blob, and a member would not know why.
 * Undefined when the model has no such vocabulary or the prompt has a word it knows.
 */
export function vocabularyHint(entry: ModelEntry | undefined, prompt: string): string | undefined {
  const vocabulary = entry?.vocabulary;
  if (entry === undefined || vocabulary === undefined) return undefined;
  const words = new Set(prompt.toLowerCase().split(/[^a-z]+/));
  // "circles" and "reds" count: members write plurals, and the model drew the singular either way.
  const known = [...vocabulary.shapes, ...vocabulary.colours].some((w) => words.has(w) || words.has(`${w}s`));
  if (known) return undefined;
  return (
    `${entry.id} knows no word of this prompt, so the picture will be random. It draws one shape ` +
    `(${vocabulary.shapes.join(', ')}) in one colour on a background of another ` +
    `(${vocabulary.colours.join(', ')}), e.g. "${vocabulary.example}".`
  );
}
