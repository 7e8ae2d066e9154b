import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installedAddOnNames } from '../../src/models/add-on-folders.ts';
import { FolderMemo, folderAndChildren } from '../../src/models/folder-memo.ts';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'easel-folder-memo-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Sets a folder's mtime a minute back, as an install that happened a while ago. */
function age(folder: string): void {
  const past = new Date(Date.now() - 60_000);
  utimesSync(folder, past, past);
}

/** A memo over one folder whose answer counts how often it was read. */
function countingMemo(folder: string) {
  const memo = new FolderMemo<number>();
  let reads = 0;
  const get = () => memo.get(folder, () => ({ value: ++reads, folders: [folder] }));
  return { get, reads: () => reads };
}

describe('FolderMemo', () => {
  it('keeps an answer while its folder is unchanged, and reads again once an entry is added, renamed or removed', () => {
    const folder = join(root, 'embeddings');
    mkdirSync(folder);
    age(folder);
    const memo = countingMemo(folder);
    expect([memo.get(), memo.get(), memo.get()]).toEqual([1, 1, 1]);

    writeFileSync(join(folder, 'a.safetensors.part'), 'x');
    expect(memo.get()).toBe(2);
    age(folder);
    expect(memo.get()).toBe(3);
    expect(memo.get()).toBe(3);

    renameSync(join(folder, 'a.safetensors.part'), join(folder, 'a.safetensors'));
    expect(memo.get()).toBe(4);
    age(folder);
    memo.get();
    rmSync(join(folder, 'a.safetensors'));
    expect(memo.get()).toBe(6);
  });

  it('does not keep an answer read from a folder changed within the last second (its mtime could not tell a later change)', () => {
    const folder = join(root, 'fresh');
    mkdirSync(folder);
    const memo = countingMemo(folder);
    expect([memo.get(), memo.get(), memo.get()]).toEqual([1, 2, 3]);
  });

  it('counts a folder that does not exist yet, and reads again once it does', () => {
    const folder = join(root, 'later');
    const memo = countingMemo(folder);
    expect([memo.get(), memo.get()]).toEqual([1, 1]);
    mkdirSync(folder);
    age(folder);
    expect(memo.get()).toBe(2);
  });

  it('lists a folder with the folders directly inside it', () => {
    mkdirSync(join(root, 'unet'));
    mkdirSync(join(root, 'vae_decoder'));
    writeFileSync(join(root, 'model_index.json'), '{}');
    expect(folderAndChildren(root).sort()).toEqual(
      [root, join(root, 'unet'), join(root, 'vae_decoder')].sort(),
    );
    expect(folderAndChildren(join(root, 'missing'))).toEqual([join(root, 'missing')]);
  });
});

describe('installedAddOnNames', () => {
  it('names the installed embeddings as the folder changes, a long-installed folder included', () => {
    const folder = join(root, 'embeddings');
    expect(installedAddOnNames(root, 'embedding')).toEqual([]);
    mkdirSync(folder);
    writeFileSync(join(folder, 'shiny.safetensors'), 'x');
    age(folder);
    expect(installedAddOnNames(root, 'embedding')).toEqual(['shiny']);
    expect(installedAddOnNames(root, 'embedding')).toEqual(['shiny']);
    writeFileSync(join(folder, 'dull.safetensors'), 'x');
    expect(installedAddOnNames(root, 'embedding')).toEqual(['dull', 'shiny']);
    age(folder);
    rmSync(join(folder, 'shiny.safetensors'));
    expect(installedAddOnNames(root, 'embedding')).toEqual(['dull']);
  });
});
