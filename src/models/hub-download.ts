import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { downloadFile, type ListFileEntry, listFiles } from '@huggingface/hub';
import { CodedError } from '../errors/coded-error.ts';

/**
 * Fetches a model folder from the Hugging Face hub: the file list (with sizes and checksums) from
 * `listFiles`, each file's bytes through `downloadFile`'s lazy blob. Downloads are resumable: bytes
 * go to `<file>.part`, a later run asks for the rest with a Range request (and starts over when
 * the server ignores the range), the result is checked against the hub's checksum (the LFS sha256,
 * or the git blob sha1 of small files) and only then renamed into place, so a finished file is
 * always a whole and verified one.
 */
export interface HubSource {
  repo: string;
  revision: string;
  hubUrl: string;
  accessToken?: string;
}

export interface DownloadEvents {
  /** Called once with the files to fetch and their total size. */
  plan?(files: readonly HubFile[], totalBytes: number): void;
  /** Bytes received (or found already on disk) for `path`. */
  progress?(path: string, bytes: number): void;
  /** A file that is already complete and verified. */
  skipped?(path: string): void;
}

export interface HubFile {
  path: string;
  size: number;
  /** sha256 for LFS files. */
  sha256?: string;
  /** git blob sha1 for files kept in git. */
  gitSha1?: string;
}

/** Weights in formats the engine cannot use: skipped unless every file is wanted. */
const SKIPPED = /\.(safetensors|bin|ckpt|pt|pth|msgpack|h5|png|jpe?g|gif|webp|md)$|(^|\/)\.gitattributes$/i;

function wantedFile(path: string): boolean {
  return !SKIPPED.test(path);
}

function toHubFile(entry: ListFileEntry): HubFile {
  const file: HubFile = { path: entry.path, size: entry.lfs?.size ?? entry.size };
  if (entry.lfs?.oid !== undefined) file.sha256 = entry.lfs.oid;
  else if (entry.oid !== undefined) file.gitSha1 = entry.oid;
  return file;
}

async function listModelFiles(source: HubSource, all = false): Promise<HubFile[]> {
  const files: HubFile[] = [];
  for await (const entry of listFiles({
    repo: source.repo,
    revision: source.revision,
    recursive: true,
    hubUrl: source.hubUrl,
    ...(source.accessToken !== undefined ? { accessToken: source.accessToken } : {}),
  })) {
    if (entry.type === 'file' && (all || wantedFile(entry.path))) files.push(toHubFile(entry));
  }
  return files;
}

async function checksumOf(
  path: string,
  file: HubFile,
): Promise<{ expected: string; actual: string } | undefined> {
  if (file.sha256 !== undefined) {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return { expected: file.sha256, actual: hash.digest('hex') };
  }
  if (file.gitSha1 !== undefined) {
    const hash = createHash('sha1').update(`blob ${file.size}\0`);
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return { expected: file.gitSha1, actual: hash.digest('hex') };
  }
  return undefined;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Downloads one file into `dest`, resuming `dest.part` when there is one. */
async function downloadOne(
  source: HubSource,
  file: HubFile,
  dest: string,
  events: DownloadEvents,
): Promise<void> {
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  let have = await sizeOf(part);
  if (have > file.size) {
    await rm(part, { force: true });
    have = 0;
  }
  events.progress?.(file.path, have);
  for (let attempt = 0; attempt < 2 && have < file.size; attempt++) {
    let rangeIgnored = false;
    // Wraps fetch to see whether the server honoured our Range (206) or sent the whole file (200).
    const watching: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const range = new Headers(init?.headers).get('range');
      if (range !== null && range !== 'bytes=0-0' && response.status === 200) rangeIgnored = true;
      return response;
    };
    const blob = await downloadFile({
      repo: source.repo,
      path: file.path,
      revision: source.revision,
      hubUrl: source.hubUrl,
      fetch: watching,
      xet: false,
      ...(source.accessToken !== undefined ? { accessToken: source.accessToken } : {}),
    });
    if (blob === null) throw new CodedError('model-missing', `${source.repo} has no file ${file.path}`);
    const reader = (have > 0 ? blob.slice(have) : blob).stream().getReader();
    const first = await reader.read();
    if (rangeIgnored) {
      // No resuming on this server: start the file over.
      await reader.cancel();
      await truncate(part, 0).catch(() => {});
      events.progress?.(file.path, -have);
      have = 0;
      continue;
    }
    const out = createWriteStream(part, { flags: have > 0 ? 'a' : 'w' });
    try {
      let chunk = first;
      while (!chunk.done) {
        const bytes = chunk.value as Uint8Array;
        if (!out.write(bytes)) await new Promise((resolve) => out.once('drain', resolve));
        events.progress?.(file.path, bytes.length);
        chunk = await reader.read();
      }
    } finally {
      await new Promise<void>((resolve, reject) =>
        out.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    }
    break;
  }
  const size = await sizeOf(part);
  if (size !== file.size) {
    throw new CodedError(
      'model-invalid',
      `${file.path}: received ${size} bytes of ${file.size}; run the download again to resume`,
    );
  }
  const sums = await checksumOf(part, file);
  if (sums !== undefined && sums.expected !== sums.actual) {
    await rm(part, { force: true });
    throw new CodedError(
      'model-invalid',
      `${file.path}: checksum mismatch (expected ${sums.expected}, got ${sums.actual}); the partial file was removed, run again`,
    );
  }
  await rename(part, dest);
}

/** Downloads every wanted file of the repo into `dir`; files already complete and verified are kept. */
export async function downloadModel(
  source: HubSource,
  dir: string,
  events: DownloadEvents = {},
  options: { all?: boolean } = {},
): Promise<HubFile[]> {
  const files = await listModelFiles(source, options.all === true);
  if (files.length === 0)
    throw new CodedError('model-missing', `${source.repo}@${source.revision} has no files to fetch`);
  events.plan?.(
    files,
    files.reduce((sum, f) => sum + f.size, 0),
  );
  for (const file of files) {
    const dest = join(dir, file.path);
    if (existsSync(dest) && (await sizeOf(dest)) === file.size) {
      const sums = await checksumOf(dest, file);
      if (sums === undefined || sums.expected === sums.actual) {
        events.progress?.(file.path, file.size);
        events.skipped?.(file.path);
        continue;
      }
    }
    await downloadOne(source, file, dest, events);
  }
  return files;
}
