import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CodedError } from '../errors/coded-error.ts';
import { filesStillMissing, unfinishedDownload } from './download-marker.ts';
import { exportCommand } from './export-command.ts';
import { FolderMemo, folderAndChildren } from './folder-memo.ts';
import { detectModelFamily, missingFamilyFiles } from './model-family.ts';
import { type ModelEntry, PACKAGE_MODELS_DIR } from './registry.ts';

/** Where a registry entry's files live: built-in models inside the package, the rest under MODELS_DIR. */
export function modelFolder(entry: ModelEntry, modelsDir: string): string {
  return resolve(entry.builtin === true ? PACKAGE_MODELS_DIR : modelsDir, entry.folder);
}

/** A file a model needs, with alternatives where exporters differ (e.g. CLIP's slow-tokenizer files). */
interface Requirement {
  anyOf: string[][];
  /** Only the modes that start from an image need the VAE encoder. */
  forImages?: boolean;
}

const DIFFUSION_FILES: Requirement[] = [
  { anyOf: [['model_index.json']] },
  { anyOf: [['scheduler/scheduler_config.json']] },
  { anyOf: [['tokenizer/tokenizer.json'], ['tokenizer/vocab.json', 'tokenizer/merges.txt']] },
  { anyOf: [['text_encoder/model.onnx']] },
  { anyOf: [['unet/model.onnx']] },
  { anyOf: [['vae_decoder/model.onnx']] },
  { anyOf: [['vae_encoder/model.onnx']], forImages: true },
];

const UPSCALER_FILES: Requirement[] = [{ anyOf: [['model.onnx'], ['onnx/model.onnx']] }];

/**
 * The files (relative to the folder) that are missing; empty when the model is complete. A
 * diffusion folder is checked against its family's components (model-family.ts); one without a
 * model_index.json or of no known family, against SD 1's list (loading it names the problem). A
 * folder whose download has not finished lacks the files that download has yet to bring, whatever
 * else is there (a `model.onnx` without its external weights is not a model).
 */
export function missingModelFiles(entry: ModelEntry, dir: string, needsImageEncoder = true): string[] {
  const unfinished = unfinishedDownload(dir);
  if (unfinished !== undefined) {
    const pending = filesStillMissing(dir, unfinished);
    if (pending.length > 0) return pending;
  }
  if (entry.kind !== 'upscaler' && existsSync(join(dir, 'model_index.json'))) {
    const family = missingFamilyFiles(dir, needsImageEncoder);
    if (family !== undefined) return family;
  }
  const requirements = entry.kind === 'upscaler' ? UPSCALER_FILES : DIFFUSION_FILES;
  const missing: string[] = [];
  for (const requirement of requirements) {
    if (requirement.forImages === true && !needsImageEncoder) continue;
    const satisfied = requirement.anyOf.some((files) => files.every((f) => existsSync(join(dir, f))));
    if (!satisfied) {
      const first = requirement.anyOf[0]!;
      missing.push(first.find((f) => !existsSync(join(dir, f))) ?? first[0]!);
    }
  }
  return missing;
}

export function isInstalled(entry: ModelEntry, modelsDir: string): boolean {
  const dir = modelFolder(entry, modelsDir);
  return existsSync(dir) && missingModelFiles(entry, dir).length === 0;
}

/**
 * The model's folder, or a `model-missing` error naming the folder or the first missing file and
 * how to get the model.
 */
export function requireModelFolder(entry: ModelEntry, modelsDir: string, needsImageEncoder = true): string {
  const dir = modelFolder(entry, modelsDir);
  // Asked before every render: a complete folder is checked again only once it changed.
  completeFolders.get(`${entry.id}|${entry.kind}|${needsImageEncoder}|${dir}`, () => {
    checkModelFolder(entry, dir, needsImageEncoder);
    return { value: true, folders: folderAndChildren(dir) };
  });
  return dir;
}

const completeFolders = new FolderMemo<true>();

function checkModelFolder(entry: ModelEntry, dir: string, needsImageEncoder: boolean): void {
  const subfolder = entry.hub?.subfolder === undefined ? '' : ` --subfolder ${entry.hub.subfolder}`;
  const howTo =
    entry.hub !== undefined
      ? ` Install it with: easel models download ${entry.hub.repo} --revision ${entry.hub.revision}${subfolder}`
      : entry.export !== undefined
        ? ` Install it by exporting it: ${exportCommand(entry.export, dir)}`
        : '';
  if (!existsSync(dir)) {
    throw new CodedError(
      'model-missing',
      `model "${entry.id}" is not installed: ${dir} does not exist.${howTo}`,
    );
  }
  if (entry.kind !== 'upscaler' && existsSync(join(dir, 'model_index.json'))) {
    // A folder of no family easel knows (a Flux or Kandinsky download) says so, not "a file is missing".
    try {
      detectModelFamily(dir, needsImageEncoder);
    } catch (error) {
      if (error instanceof CodedError && error.code === 'model-invalid')
        throw new CodedError('model-invalid', `model "${entry.id}": ${error.message}`);
    }
  }
  const missing = missingModelFiles(entry, dir, needsImageEncoder);
  if (missing.length > 0) {
    throw new CodedError(
      'model-missing',
      `model "${entry.id}" is incomplete: ${join(dir, missing[0]!)} is missing` +
        (missing.length > 1 ? ` (and ${missing.slice(1).join(', ')})` : '') +
        `.${howTo}`,
    );
  }
}
