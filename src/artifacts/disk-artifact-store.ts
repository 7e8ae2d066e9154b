import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isArtifactId, newArtifactId } from './artifact-id.ts';
import type { ArtifactMeta, ArtifactStore } from './artifact-store.ts';

const TEMP_MARK = '.tmp-';

/**
 * Artifacts on local disk (ARTIFACTS_DIR). Each artifact is two files in a shard folder named by
 * the id's first two characters (so no folder grows past a few thousand entries): the bytes, and a
 * `.json` sidecar with the metadata. Both are written to a temporary name and renamed into place;
 * the sidecar goes last and is what makes the artifact exist, so a crash mid-write never leaves a
 * readable half artifact — the sweep removes the leftovers.
 */
export class DiskArtifactStore implements ArtifactStore {
  constructor(
    readonly root: string,
    private readonly now: () => number = Date.now,
  ) {}

  async put(bytes: Buffer, meta: { contentType: string; jobId?: string }): Promise<string> {
    const id = newArtifactId();
    const full: ArtifactMeta = { contentType: meta.contentType, createdAt: this.now() };
    if (meta.jobId !== undefined) full.jobId = meta.jobId;
    const dir = this.shard(id);
    await mkdir(dir, { recursive: true });
    await writeAtomically(join(dir, id), bytes);
    await writeAtomically(join(dir, `${id}.json`), Buffer.from(JSON.stringify(full)));
    return id;
  }

  async get(id: string): Promise<{ bytes: Buffer; meta: ArtifactMeta } | undefined> {
    // Ids arrive from public URLs: anything that is not an id we issued cannot name a file.
    if (!isArtifactId(id)) return undefined;
    const dir = this.shard(id);
    try {
      const meta = JSON.parse(await readFile(join(dir, `${id}.json`), 'utf8')) as ArtifactMeta;
      const bytes = await readFile(join(dir, id));
      return { bytes, meta };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async delete(id: string): Promise<void> {
    if (!isArtifactId(id)) return;
    const dir = this.shard(id);
    // Sidecar first: from then on the artifact no longer exists for readers.
    await rm(join(dir, `${id}.json`), { force: true });
    await rm(join(dir, id), { force: true });
  }

  async sweep(cutoffMs: number): Promise<number> {
    let removed = 0;
    for (const shard of await listOrEmpty(this.root)) {
      const dir = join(this.root, shard);
      const names = await listOrEmpty(dir);
      const present = new Set(names);
      for (const name of names) {
        const path = join(dir, name);
        if (name.includes(TEMP_MARK) || (isArtifactId(name) && !present.has(`${name}.json`))) {
          // A write that never finished, or bytes whose sidecar went first in a delete.
          const mtime = await mtimeOrUndefined(path);
          if (mtime !== undefined && mtime < cutoffMs) {
            await rm(path, { force: true });
          }
          continue;
        }
        if (!name.endsWith('.json')) continue;
        const id = name.slice(0, -'.json'.length);
        if (!isArtifactId(id)) continue;
        // An unreadable sidecar falls back to the file's age, so it cannot pin an artifact forever.
        const createdAt = (await createdAtOf(path)) ?? (await mtimeOrUndefined(path));
        if (createdAt !== undefined && createdAt < cutoffMs) {
          await this.delete(id);
          removed += 1;
        }
      }
    }
    return removed;
  }

  private shard(id: string): string {
    return join(this.root, id.slice(0, 2));
  }
}

async function writeAtomically(path: string, bytes: Buffer): Promise<void> {
  const temp = `${path}${TEMP_MARK}${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

async function createdAtOf(sidecar: string): Promise<number | undefined> {
  try {
    const meta = JSON.parse(await readFile(sidecar, 'utf8')) as Partial<ArtifactMeta>;
    return typeof meta.createdAt === 'number' ? meta.createdAt : undefined;
  } catch {
    return undefined;
  }
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

async function mtimeOrUndefined(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
