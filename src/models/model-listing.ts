import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultModelId } from '../request/default-model.ts';
import { exportCommand } from './export-command.ts';
import { missingModelFiles, modelFolder } from './model-folder.ts';
import { findModel, type ModelEntry, type Registry } from './registry.ts';

/**
 * One model as `easel models list` and `GET /v1/models` show it: whether it can be used here, which
 * one a request that names none gets, and, for a missing one, the command that installs it.
 */
export interface ModelListing {
  id: string;
  aliases: string[];
  description: string;
  kind: ModelEntry['kind'];
  family: string;
  nativeResolution: number;
  installed: boolean;
  state: 'installed' | 'not installed' | 'incomplete';
  /** Files an incomplete folder lacks. */
  missing: string[];
  /** The model a request without one gets (DEFAULT_MODEL, else the rule in default-model.ts). */
  default: boolean;
  /** The command that installs (or completes) the model; absent when it is installed or built in. */
  install?: string;
  folder: string;
}

/**
 * The command that installs `entry`: a hub download, the export of a model the hub has no ONNX
 * export of, or the entry's own (`easel models tiny`).
 */
function installCommand(entry: ModelEntry, dir: string): string | undefined {
  if (entry.hub !== undefined) {
    const revision = entry.hub.revision === 'main' ? '' : ` --revision ${entry.hub.revision}`;
    const subfolder = entry.hub.subfolder === undefined ? '' : ` --subfolder ${entry.hub.subfolder}`;
    return `easel models download ${entry.hub.repo}${revision}${subfolder}`;
  }
  if (entry.export !== undefined) return exportCommand(entry.export, dir);
  return entry.install;
}

/**
 * The family the registry names, else what an installed folder's model_index.json says (the class
 * names diffusers writes for SDXL and SD3 pipelines), else "unknown".
 */
function familyOf(entry: ModelEntry, dir: string): string {
  if (entry.family !== undefined) return entry.family;
  if (entry.kind === 'upscaler') return 'upscaler';
  const index = join(dir, 'model_index.json');
  if (!existsSync(index)) return 'unknown';
  try {
    const className = String(
      (JSON.parse(readFileSync(index, 'utf8')) as { _class_name?: unknown })._class_name,
    );
    if (/XL/.test(className)) return 'sdxl';
    if (/StableDiffusion3/.test(className)) return 'sd3';
    return /StableDiffusion/.test(className) ? 'sd1' : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function listModels(catalog: Registry, modelsDir: string, configuredDefault: string): ModelListing[] {
  const defaultId = findModel(catalog, defaultModelId(configuredDefault, catalog, modelsDir))?.id;
  return catalog.models.map((entry) => {
    const dir = modelFolder(entry, modelsDir);
    const missing = existsSync(dir) ? missingModelFiles(entry, dir) : [];
    const state = !existsSync(dir) ? 'not installed' : missing.length > 0 ? 'incomplete' : 'installed';
    const install = state === 'installed' ? undefined : installCommand(entry, dir);
    return {
      id: entry.id,
      aliases: entry.aliases,
      description: entry.description,
      kind: entry.kind,
      family: familyOf(entry, dir),
      nativeResolution: entry.nativeResolution,
      installed: state === 'installed',
      state,
      missing,
      default: entry.id === defaultId,
      ...(install !== undefined ? { install } : {}),
      folder: dir,
    };
  });
}
