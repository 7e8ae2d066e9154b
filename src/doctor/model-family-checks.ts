import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';
import { CodedError } from '../errors/coded-error.ts';
import { filesStillMissing, unfinishedDownload } from '../models/download-marker.ts';
import { detectModelFamily, FAMILY_LABELS, type FamilyLayout, familyParts } from '../models/model-family.ts';
import { missingModelFiles, modelFolder } from '../models/model-folder.ts';
import type { ModelEntry, Registry } from '../models/registry.ts';
import type { CheckResult } from './checks.ts';

/** Bytes of every file in a component folder: its model.onnx and external weights, whatever their names. */
function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile()) total += statSync(join(dir, e.name)).size;
  }
  return total;
}

function gigabytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 1e6))} MB`;
}

/** "text_encoder (1.4 GB)", per component the pipeline will load, in the order it uses them. */
function components(layout: FamilyLayout, dir: string): { text: string; bytes: number } {
  let bytes = 0;
  const parts = familyParts(layout, existsSync(join(dir, 'vae_encoder', 'model.onnx'))).map((part) => {
    const size = folderBytes(join(dir, part));
    bytes += size;
    return `${part} (${gigabytes(size)})`;
  });
  const leftOut = layout.text.filter((t) => !t.present).map((t) => t.encoder);
  const optional =
    leftOut.length > 0
      ? `; ${leftOut.join(', ')} not installed (optional: prompts are encoded without it)`
      : '';
  return { text: parts.join(', ') + optional, bytes };
}

function reinstall(entry: ModelEntry): string {
  return entry.hub !== undefined ? `easel models download ${entry.id}` : 'export the model again';
}

/**
 * One line of `easel doctor` per model folder that is there: the family its model_index.json says,
 * the components the pipeline will load with their size on disk, and what is missing, an
 * interrupted download, or a folder of another family than the registry expects.
 */
export function modelFamilyChecks(config: Config, catalog: Registry): CheckResult[] {
  const results: CheckResult[] = [];
  for (const entry of catalog.models) {
    if (entry.kind === 'upscaler') continue;
    const dir = modelFolder(entry, config.MODELS_DIR);
    if (!existsSync(dir)) continue;
    const name = `model ${entry.id}`;
    const unfinished = unfinishedDownload(dir);
    if (unfinished !== undefined && filesStillMissing(dir, unfinished).length > 0) {
      const missing = filesStillMissing(dir, unfinished);
      results.push({
        name,
        status: 'warn',
        detail: `download from ${unfinished.repo} not finished: ${missing.length} file(s) still to come (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}).\n  Run \`${reinstall(entry)}\` again; it resumes.`,
      });
      continue;
    }
    let layout: FamilyLayout;
    try {
      layout = detectModelFamily(dir, false);
    } catch (error) {
      if (!(error instanceof CodedError)) throw error;
      const missing = missingModelFiles(entry, dir);
      results.push({
        name,
        status: 'warn',
        detail: `${error.message}.\n  ${missing.length > 0 ? `Run \`${reinstall(entry)}\` to complete it.` : 'Replace the folder with an ONNX export in the diffusers/Optimum layout.'}`,
      });
      continue;
    }
    const { text, bytes } = components(layout, dir);
    const label = `${FAMILY_LABELS[layout.family]} (${layout.className}, ${layout.predictionType} prediction)`;
    const expected = entry.family;
    if (expected !== undefined && expected !== layout.family) {
      results.push({
        name,
        status: 'warn',
        detail: `the folder holds ${label}, but the registry lists ${entry.id} as ${expected}: ${dir} may hold another model.\n  Check the folder, or correct the entry's family.`,
      });
      continue;
    }
    const imageModes = existsSync(join(dir, 'vae_encoder', 'model.onnx'))
      ? ''
      : '; no vae_encoder: img2img, variations, inpainting and zoom out are unavailable';
    results.push({
      name,
      status: 'ok',
      detail: `${label}: ${text}; ${gigabytes(bytes)} in all${imageModes}`,
    });
  }
  return results;
}
