import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FolderMemo } from './folder-memo.ts';

/**
 * Where LoRAs and textual-inversion embeddings live: `MODELS_DIR/loras/<name>.safetensors` and
 * `MODELS_DIR/embeddings/<name>.safetensors`. A file's name is what members write
 * (`<lora:name:0.8>`, the embedding's word in a prompt), as in AUTOMATIC1111.
 */
export type AddOnKind = 'lora' | 'embedding';

export const ADD_ON_FOLDERS: Record<AddOnKind, string> = { lora: 'loras', embedding: 'embeddings' };

const EXTENSION = '.safetensors';

export interface InstalledAddOn {
  name: string;
  path: string;
  bytes: number;
}

/** The installed files of a kind, by name; none when the folder does not exist. */
export function installedAddOns(modelsDir: string, kind: AddOnKind): InstalledAddOn[] {
  const dir = join(modelsDir, ADD_ON_FOLDERS[kind]);
  if (!existsSync(dir)) return [];
  const found: InstalledAddOn[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(EXTENSION) || file.startsWith('.')) continue;
    const path = join(dir, file);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat?.isFile() !== true) continue;
    found.push({ name: file.slice(0, -EXTENSION.length), path, bytes: stat.size });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** Where a named add-on's file is, whether or not it exists (names are checked by the request layer). */
export function addOnPath(modelsDir: string, kind: AddOnKind, name: string): string {
  return join(modelsDir, ADD_ON_FOLDERS[kind], `${name}${EXTENSION}`);
}

const names = new FolderMemo<string[]>();

/**
 * The names of the installed add-ons of a kind, as `installedAddOns` lists them, for what every
 * request asks (does the prompt name an installed embedding?): kept while the folder is unchanged.
 */
export function installedAddOnNames(modelsDir: string, kind: AddOnKind): string[] {
  const dir = join(modelsDir, ADD_ON_FOLDERS[kind]);
  return names.get(dir, () => ({
    value: installedAddOns(modelsDir, kind).map((a) => a.name),
    folders: [dir],
  }));
}
