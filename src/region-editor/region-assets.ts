import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';

/**
 * The page's script and stylesheet. The script is TypeScript (page/editor.ts) bundled by esbuild the
 * first time it is asked for (about 0.1 s, once a process), in memory, so `npm ci && npm start` (or
 * `npm test`) needs no build step and an api role nobody opens the page on never starts esbuild;
 * esbuild is already here as tsx's engine.
 */
const EDITOR_TS = new URL('./page/editor.ts', import.meta.url);
const EDITOR_CSS = new URL('./page/editor.css', import.meta.url);

let script: Promise<string> | undefined;
let style: Promise<string> | undefined;

export function editorScript(): Promise<string> {
  script ??= build({
    entryPoints: [EDITOR_TS.pathname],
    bundle: true,
    format: 'iife',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  }).then((result) => {
    const file = result.outputFiles[0];
    if (!file) throw new Error('esbuild produced no editor script');
    return file.text;
  });
  script.catch(() => {
    script = undefined;
  });
  return script;
}

export function editorStyle(): Promise<string> {
  style ??= readFile(EDITOR_CSS, 'utf8');
  return style;
}
