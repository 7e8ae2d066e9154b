import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Answers read from MODELS_DIR that API and chat requests ask on every call (which model is the
 * default, which embeddings are installed), kept until one of the folders they were read from
 * changes. Adding, removing or renaming an entry in a folder changes that folder's mtime, and a
 * download lands each file by renaming it into place (src/models/hub-download.ts), so checking the
 * folders' mtimes is a few stat calls where reading the answer again is a directory listing, a JSON
 * file and a dozen existence checks.
 *
 * File systems keep mtime at the granularity of a clock tick, so a folder changed in the same tick
 * as the reading could look unchanged afterwards (git's "racy" index entries): an answer read from a
 * folder that changed less than a second ago is not kept, and is read again next time.
 */
const RACY_MS = 1000;

/** The folders' inode and mtime, or undefined when one changed too recently to be trusted. */
function stampOf(folders: readonly string[], now: number): string | undefined {
  const parts: string[] = [];
  for (const folder of folders) {
    const stat = statSync(folder, { throwIfNoEntry: false });
    if (stat === undefined) {
      parts.push('-');
      continue;
    }
    if (now - stat.mtimeMs < RACY_MS) return undefined;
    parts.push(`${stat.ino}:${stat.mtimeMs}`);
  }
  return parts.join('|');
}

/** A folder and the folders directly inside it: a model's files sit one level down (`unet/model.onnx`). */
export function folderAndChildren(folder: string): string[] {
  try {
    const children = readdirSync(folder, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(folder, entry.name));
    return [folder, ...children];
  } catch {
    return [folder];
  }
}

export class FolderMemo<T> {
  private kept = new Map<string, { folders: readonly string[]; stamp: string; value: T }>();

  /**
   * The answer for `key`: the kept one while its folders are unchanged, else `read()`'s, which also
   * says which folders the answer came from. A folder that does not exist counts too (its parent's
   * mtime changes when it is made). A change while `read()` runs leaves a recent mtime, so that
   * answer is not kept.
   */
  get(key: string, read: () => { value: T; folders: readonly string[] }): T {
    const now = Date.now();
    const kept = this.kept.get(key);
    if (kept !== undefined && stampOf(kept.folders, now) === kept.stamp) return kept.value;
    const { value, folders } = read();
    const stamp = stampOf(folders, now);
    if (stamp === undefined) this.kept.delete(key);
    else this.kept.set(key, { folders, stamp, value });
    return value;
  }
}
