import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The file `easel models download` keeps in a model folder while a download is under way or was
 * interrupted: which repo it came from and every file the folder will hold. Files land only once
 * complete and verified, but a folder can hold `unet/model.onnx` without `unet/model.onnx_data`
 * yet; while the marker is there the folder counts as incomplete, with the missing files named.
 */
export const DOWNLOAD_MARKER = '.easel-download.json';

export interface DownloadMarker {
  repo: string;
  revision: string;
  subfolder?: string;
  /** Paths relative to the model folder. */
  files: string[];
}

/** The unfinished download in `dir`, if there is one (an unreadable marker counts as unfinished). */
export function unfinishedDownload(dir: string): DownloadMarker | undefined {
  const file = join(dir, DOWNLOAD_MARKER);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DownloadMarker>;
    if (typeof parsed.repo === 'string' && Array.isArray(parsed.files)) {
      return {
        repo: parsed.repo,
        revision: typeof parsed.revision === 'string' ? parsed.revision : 'main',
        ...(typeof parsed.subfolder === 'string' ? { subfolder: parsed.subfolder } : {}),
        files: parsed.files.filter((f): f is string => typeof f === 'string'),
      };
    }
  } catch {
    // Fall through: a marker cut short by a crash still means the download did not finish.
  }
  return { repo: 'an interrupted download', revision: 'main', files: [] };
}

/**
 * The files of an unfinished download that are not in place yet. Every listed file in place means
 * the run stopped between the last file and removing the marker: nothing is missing. A marker that
 * cannot be read names itself, so the folder stays incomplete until a new run rewrites it.
 */
export function filesStillMissing(dir: string, marker: DownloadMarker): string[] {
  if (marker.files.length === 0) return [DOWNLOAD_MARKER];
  return marker.files.filter((f) => !existsSync(join(dir, f)));
}
