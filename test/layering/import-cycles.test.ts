import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * admission, credits and queue import each other in one direction only (admission uses credits and
 * queue, queue uses credits): shared member and scope types and the queue names live in modules of
 * their own, so no folder needs another that needs it back. This walks the relative imports of
 * src/ (type imports too: a type cycle is the same tangle) and fails on any cycle through them.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const LAYERS = ['admission', 'credits', 'queue'];
const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?[^'";]*?from\s+'(\.[^']+)'/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Each file's relative imports, resolved to files. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const imports = [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) =>
      path.resolve(path.dirname(file), m[1]!),
    );
    graph.set(file, imports);
  }
  return graph;
}

/** The folder of src/ a file is in (`src/queue/x.ts` → `queue`). */
function layerOf(file: string): string | undefined {
  const [top, folder] = path.relative(ROOT, file).split(path.sep);
  return top === 'src' ? folder : undefined;
}

/** One cycle of the graph as a path of its nodes, or undefined when it has none. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (state.get(node) === undefined) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

describe('import layering', () => {
  const files = sourceFiles(path.join(ROOT, 'src'));
  const graph = importGraph(files);

  it('has no import cycle among the files of admission, credits and queue', () => {
    const inLayers = new Map(
      [...graph]
        .filter(([file]) => LAYERS.includes(layerOf(file) ?? ''))
        .map(([file, imports]) => [file, imports.filter((to) => LAYERS.includes(layerOf(to) ?? ''))]),
    );
    expect(inLayers.size).toBeGreaterThan(20);
    expect(findCycle(inLayers)?.map((f) => path.relative(ROOT, f))).toBeUndefined();
  });

  it('has no cycle between the folders admission, credits and queue', () => {
    const folders = new Map<string, string[]>(LAYERS.map((layer) => [layer, []]));
    for (const [file, imports] of graph) {
      const from = layerOf(file);
      if (!from || !LAYERS.includes(from)) continue;
      for (const to of imports.map(layerOf)) {
        if (to && to !== from && LAYERS.includes(to) && !folders.get(from)!.includes(to)) {
          folders.get(from)!.push(to);
        }
      }
    }
    // The walk sees the imports that exist: admission uses both others.
    expect(folders.get('admission')).toEqual(expect.arrayContaining(['credits', 'queue']));
    expect(findCycle(folders)).toBeUndefined();
  });

  it('finds a cycle when there is one', () => {
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
        ]),
      ),
    ).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', ['b']]]))).toBeUndefined();
  });
});
