import { resolve } from 'node:path';
import { CodedError } from '../errors/coded-error.ts';
import { exportInstructions } from './export-command.ts';
import type { HubSource } from './hub-download.ts';
import { findModel, type ModelEntry, type Registry } from './registry.ts';

export interface DownloadRequest {
  /** A registry id or alias, or a hub repo (`owner/name`). */
  repoOrId: string;
  revision?: string;
  folder?: string;
  subfolder?: string;
}

export interface DownloadSettings {
  modelsDir: string;
  hubUrl: string;
  accessToken?: string;
}

export interface DownloadPlan {
  source: HubSource;
  /** The model folder the files go to. */
  dir: string;
  folder: string;
  /** The registry entry, when the argument named one. */
  entry?: ModelEntry;
}

/**
 * What `easel models download` fetches and where, from a registry id (its hub repo, revision and
 * subfolder) or a repo the registry does not list. A registry model that cannot be downloaded is
 * refused before anything is written: one the hub has no ONNX export of gets the export command, a
 * built-in or locally made one says so.
 */
export function planDownload(
  catalog: Registry,
  request: DownloadRequest,
  settings: DownloadSettings,
): DownloadPlan {
  const entry =
    findModel(catalog, request.repoOrId) ?? catalog.models.find((m) => m.hub?.repo === request.repoOrId);
  if (entry !== undefined && entry.hub === undefined) {
    if (entry.export !== undefined) {
      throw new CodedError('model-missing', `${entry.id}: ${exportInstructions(entry, settings.modelsDir)}`);
    }
    throw new CodedError(
      'model-missing',
      entry.builtin === true
        ? `${entry.id} ships with easel: there is nothing to download`
        : `${entry.id} is not on the hub${entry.install !== undefined ? `: \`${entry.install}\` makes it` : ''}`,
    );
  }
  if (entry === undefined && !/^[\w.-]+\/[\w.-]+$/.test(request.repoOrId)) {
    const known = catalog.models
      .filter((m) => m.hub !== undefined || m.export !== undefined)
      .map((m) => m.id);
    throw new CodedError(
      'model-missing',
      `"${request.repoOrId}" is neither a model id easel knows (${known.join(', ')}) nor a hub repo (owner/name)`,
    );
  }
  const repo = entry?.hub?.repo ?? request.repoOrId;
  const folder = request.folder ?? entry?.folder ?? repo.split('/').pop()!;
  const subfolder = request.subfolder ?? entry?.hub?.subfolder;
  const source: HubSource = {
    repo,
    revision: request.revision ?? entry?.hub?.revision ?? 'main',
    hubUrl: settings.hubUrl,
    ...(settings.accessToken !== undefined ? { accessToken: settings.accessToken } : {}),
    ...(subfolder !== undefined ? { subfolder } : {}),
  };
  return {
    source,
    dir: resolve(settings.modelsDir, folder),
    folder,
    ...(entry !== undefined ? { entry } : {}),
  };
}
