import { readFileSync } from 'node:fs';

/** A fenced ```sh block of the README: the text, and the line it starts on (for failure messages). */
export interface ShellBlock {
  line: number;
  text: string;
}

/**
 * The README's runnable examples: every block fenced as ```sh, in order. Blocks fenced as ```bash
 * (installing, `npm start`, GPU set-up) are for people only.
 */
export function readmeShellBlocks(file: string): ShellBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: ShellBlock[] = [];
  let current: { line: number; body: string[] } | undefined;
  lines.forEach((text, i) => {
    if (current === undefined) {
      if (text.trim() === '```sh') current = { line: i + 1, body: [] };
    } else if (text.trim() === '```') {
      blocks.push({ line: current.line, text: current.body.join('\n') });
      current = undefined;
    } else {
      current.body.push(text);
    }
  });
  if (current !== undefined)
    throw new Error(`README.md: the sh block at line ${current.line} is never closed`);
  return blocks;
}

/** curl calls whose answer the block prints (a `$(curl …)` keeps it in a variable instead). */
export function printedCurlCalls(block: string): number {
  const all = block.match(/\bcurl -s\b/g)?.length ?? 0;
  const captured = block.match(/\$\(curl -s\b/g)?.length ?? 0;
  return all - captured;
}
