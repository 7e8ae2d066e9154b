import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { FolderMemo, folderAndChildren } from '../models/folder-memo.ts';
import { isInstalled, modelFolder } from '../models/model-folder.ts';
import type { ModelEntry, Registry } from '../models/registry.ts';

/**
 * The model a request that names none gets:
 * 1. DEFAULT_MODEL when set;
 * 2. else, when `modelsDir` is given, the first text-to-image model of the registry installed there
 *    that was downloaded from a hub (an operator who installed Stable Diffusion wants it used; the
 *    noise-drawing smoke-test model `easel models tiny` writes has no hub and is never picked);
 * 3. else the built-in easel-mini (always installed, it ships in the package), else the first entry.
 */
export function defaultModelId(configured: string, registry: Registry, modelsDir?: string): string {
  if (configured) return configured;
  if (modelsDir !== undefined) {
    const installed = installedDefault(registry, modelsDir);
    if (installed !== undefined) return installed;
  }
  return registry.models.find((m) => m.builtin)?.id ?? registry.models[0]?.id ?? 'easel-mini';
}

/** Every request without a model asks this: kept per registry while the candidates' folders are unchanged. */
const memos = new WeakMap<Registry, FolderMemo<string | undefined>>();

function installedDefault(registry: Registry, modelsDir: string): string | undefined {
  let memo = memos.get(registry);
  if (memo === undefined) {
    memo = new FolderMemo();
    memos.set(registry, memo);
  }
  return memo.get(modelsDir, () => {
    const candidates = registry.models.filter(
      (m) => m.kind === 'txt2img' && m.builtin !== true && m.hub !== undefined,
    );
    return {
      value: candidates.find((m) => isInstalled(m, modelsDir))?.id,
      folders: [...new Set(candidates.flatMap((m) => foldersOf(m, modelsDir)))],
    };
  });
}

/** What a model's being installed depends on: its folder and those in it, or its parent while it is absent. */
function foldersOf(entry: ModelEntry, modelsDir: string): string[] {
  const folder = modelFolder(entry, modelsDir);
  return existsSync(folder) ? folderAndChildren(folder) : [dirname(folder)];
}
