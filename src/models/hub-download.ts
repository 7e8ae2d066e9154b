import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { downloadFile, type ListFileEntry, listFiles } from '@huggingface/hub';
import { CodedError } from '../errors/coded-error.ts';
import { DOWNLOAD_MARKER, type DownloadMarker } from './download-marker.ts';

/**
 * Fetches a model folder from the Hugging Face hub: the file list (with sizes and checksums) from
 * `listFiles`, each file's bytes through `downloadFile`'s lazy blob. Downloads are resumable: bytes
 * go to `<file>.part`, a later run asks for the rest with a Range request (and starts over when
 * the server ignores the range), the result is checked against the hub's checksum (the LFS sha256,
 * or the git blob sha1 of small files) and only then renamed into place, so a finished file is
 * always a whole and verified one. Until every file is in place the folder carries a marker
 * (download-marker.ts) listing them, so a folder whose `model.onnx` arrived but whose external
 * weights did not is never taken for an installed model.
 *
 * Layouts: the model folder is the repo root (Optimum exports), a `subfolder` the registry names
 * (repos that hold several exports side by side), or `onnx/` when the root has no model_index.json
 * but that folder does (repos that keep PyTorch weights at the root). Files keep their paths below
 * that folder, whatever the components (`text_encoder_2/`, `tokenizer_3/`, `transformer/`, ...) and
 * whatever their external weight files are called (`model.onnx_data`, `model.onnx.data`, `weights.pb`).
 */
export interface HubSource {
  repo: string;
  revision: string;
  hubUrl: string;
  accessToken?: string;
  /** The folder inside the repo that holds the model; default: the root, or `onnx/` (see above). */
  subfolder?: string;
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
  /** The path in the repo. */
  path: string;
  /** The path in the model folder: `path` less the subfolder. */
  local: string;
  size: number;
  /** sha256 for LFS files. */
  sha256?: string;
  /** git blob sha1 for files kept in git. */
  gitSha1?: string;
}

/**
 * Weights in formats the engine cannot use (PyTorch, Flax, OpenVINO's IR) and repo decoration:
 * skipped unless every file is wanted.
 */
const SKIPPED =
  /\.(safetensors|bin|ckpt|pt|pth|msgpack|h5|png|jpe?g|gif|webp|md)$|(^|\/)\.gitattributes$|(^|\/)openvino_model\.xml$/i;

function wantedFile(path: string): boolean {
  return !SKIPPED.test(path);
}

function toHubFile(entry: ListFileEntry, prefix: string): HubFile {
  const file: HubFile = {
    path: entry.path,
    local: entry.path.slice(prefix.length),
    size: entry.lfs?.size ?? entry.size,
  };
  if (entry.lfs?.oid !== undefined) file.sha256 = entry.lfs.oid;
  else if (entry.oid !== undefined) file.gitSha1 = entry.oid;
  return file;
}

async function listRepo(source: HubSource): Promise<ListFileEntry[]> {
  const entries: ListFileEntry[] = [];
  try {
    for await (const entry of listFiles({
      repo: source.repo,
      revision: source.revision,
      recursive: true,
      hubUrl: source.hubUrl,
      ...(source.accessToken !== undefined ? { accessToken: source.accessToken } : {}),
    })) {
      if (entry.type === 'file') entries.push(entry);
    }
  } catch (error) {
    throw new CodedError(
      'model-missing',
      `cannot list ${source.repo}@${source.revision} on ${source.hubUrl}: ${(error as Error).message}` +
        (source.accessToken === undefined
          ? ' (a gated or private repo needs HF_TOKEN, with its licence accepted on the hub)'
          : ''),
      { cause: error },
    );
  }
  return entries;
}

/** The folder inside the repo that holds the model, with a trailing slash ('' for the root). */
function modelPrefix(source: HubSource, entries: readonly ListFileEntry[]): string {
  if (source.subfolder !== undefined) return `${source.subfolder.replace(/^\/+|\/+$/g, '')}/`;
  const has = (path: string) => entries.some((e) => e.path === path);
  return !has('model_index.json') && has('onnx/model_index.json') ? 'onnx/' : '';
}

async function listModelFiles(source: HubSource, all = false): Promise<HubFile[]> {
  const entries = await listRepo(source);
  const prefix = modelPrefix(source, entries);
  const inFolder = entries.filter((e) => e.path.startsWith(prefix));
  const where = `${source.repo}@${source.revision}${prefix === '' ? '' : ` (folder ${prefix})`}`;
  if (inFolder.length === 0) throw new CodedError('model-missing', `${where} has no files to fetch`);
  // A repo of PyTorch weights only would download nothing usable: say so before writing anything.
  if (!inFolder.some((e) => e.path.endsWith('.onnx'))) {
    throw new CodedError(
      'model-missing',
      `${where} holds no ONNX export (no .onnx files), which is all easel can run; export one with ` +
        `optimum-cli (see the README, "Exporting a model to ONNX") and put it under MODELS_DIR`,
    );
  }
  return inFolder.filter((e) => all || wantedFile(e.path)).map((e) => toHubFile(e, prefix));
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
  // An empty file (an empty merges.txt, a placeholder) has no bytes to ask for: it is written as is
  // and still checked against the listed checksum below.
  if (file.size === 0) await writeFile(part, '');
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
  events.plan?.(
    files,
    files.reduce((sum, f) => sum + f.size, 0),
  );
  await mkdir(dir, { recursive: true });
  const marker: DownloadMarker = {
    repo: source.repo,
    revision: source.revision,
    ...(source.subfolder !== undefined ? { subfolder: source.subfolder } : {}),
    files: files.map((f) => f.local),
  };
  const markerFile = join(dir, DOWNLOAD_MARKER);
  await writeFile(markerFile, `${JSON.stringify(marker, null, 2)}\n`);
  for (const file of files) {
    const dest = join(dir, file.local);
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
  await rm(markerFile, { force: true });
  return files;
}

/**
 * Downloads one safetensors file of a hub repo, a LoRA or an embedding, to `dest` (checksummed,
 * resumable, like a model's files). `file` names it; without it the repo must hold exactly one.
 */
export async function downloadHubFile(
  source: HubSource,
  file: string | undefined,
  dest: string,
  events: DownloadEvents = {},
): Promise<HubFile> {
  const entries = await listRepo(source);
  const candidates = entries.filter((e) => e.path.endsWith('.safetensors'));
  const where = `${source.repo}@${source.revision}`;
  const chosen =
    file !== undefined
      ? entries.find((e) => e.path === file)
      : candidates.length === 1
        ? candidates[0]
        : undefined;
  if (chosen === undefined) {
    const list = candidates.map((e) => e.path).join(', ') || 'none';
    throw new CodedError(
      'model-missing',
      file !== undefined
        ? `${where} has no file ${file} (its .safetensors files: ${list})`
        : `${where} holds ${candidates.length} .safetensors files (${list}); name one with --file`,
    );
  }
  const hubFile = toHubFile(chosen, '');
  events.plan?.([hubFile], hubFile.size);
  await mkdir(dirname(dest), { recursive: true });
  if (existsSync(dest) && (await sizeOf(dest)) === hubFile.size) {
    const sums = await checksumOf(dest, hubFile);
    if (sums === undefined || sums.expected === sums.actual) {
      events.progress?.(hubFile.path, hubFile.size);
      events.skipped?.(hubFile.path);
      return hubFile;
    }
  }
  await downloadOne(source, hubFile, dest, events);
  return hubFile;
}
