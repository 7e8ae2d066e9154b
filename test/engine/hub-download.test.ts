import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadModel, type HubSource } from '../../src/models/hub-download.ts';

/**
 * A local stand-in for the Hugging Face hub's two endpoints the downloader uses: the tree listing
 * (`/api/models/{repo}/tree/{revision}`) and file contents (`/{repo}/resolve/{revision}/{path}`),
 * with HTTP Range support that can be switched off, and a log of the ranges asked for.
 */
const unetBytes = Buffer.alloc(300_000, 7).map((_, i) => (i * 31) % 251);
const FILES: Record<string, Buffer> = {
  'model_index.json': Buffer.from('{"_class_name": "OnnxStableDiffusionPipeline"}'),
  'unet/model.onnx': Buffer.from(unetBytes),
  'unet/diffusion_pytorch_model.safetensors': Buffer.from('not wanted'),
};
const LFS = new Set(['unet/model.onnx']);

let server: Server;
let hubUrl: string;
let honourRanges = true;
let corrupt: string | undefined;
let ranges: { path: string; range: string | undefined }[] = [];
let dir: string;

function entry(path: string) {
  const bytes = FILES[path]!;
  if (LFS.has(path)) {
    return {
      type: 'file',
      path,
      size: 134,
      oid: 'f'.repeat(40),
      lfs: { oid: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, pointerSize: 134 },
    };
  }
  const gitSha1 = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { type: 'file', path, size: bytes.length, oid: gitSha1 };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    if (url.pathname === '/api/models/easel/tiny-onnx/tree/main') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify([{ type: 'directory', path: 'unet', size: 0 }, ...Object.keys(FILES).map(entry)]),
      );
      return;
    }
    const prefix = '/easel/tiny-onnx/resolve/main/';
    if (!url.pathname.startsWith(prefix)) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const path = decodeURIComponent(url.pathname.slice(prefix.length));
    let bytes = FILES[path];
    if (bytes === undefined) {
      res.statusCode = 404;
      res.setHeader('X-Error-Code', 'EntryNotFound');
      res.end();
      return;
    }
    // The hub's ETag: the git blob sha1, or for LFS files the sha256 in X-Linked-ETag.
    const listed = entry(path);
    res.setHeader('ETag', `"${listed.oid}"`);
    if (listed.lfs) res.setHeader('X-Linked-ETag', `"${listed.lfs.oid}"`);
    if (path === corrupt) bytes = Buffer.from(bytes).fill(0, 0, 10);
    const range = req.headers.range;
    const probe = range === 'bytes=0-0';
    if (!probe) ranges.push({ path, range });
    const match = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
    // The size probe is always answered; "ignoring ranges" concerns the ranges that fetch content.
    if ((honourRanges || probe) && match) {
      const start = Number(match[1]);
      const end = match[2] ? Number(match[2]) : bytes.length - 1;
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${end}/${bytes.length}`);
      res.end(bytes.subarray(start, end + 1));
      return;
    }
    res.statusCode = 200;
    res.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-hub-'));
  honourRanges = true;
  corrupt = undefined;
  ranges = [];
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const source = (): HubSource => ({ repo: 'easel/tiny-onnx', revision: 'main', hubUrl });

async function allFiles(root: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await allFiles(root, rel)));
    else out.push(rel);
  }
  return out.sort();
}

describe('easel models download (against a local fake of the hub)', () => {
  it('fetches the ONNX folder, verifies checksums and skips weights the engine cannot use', async () => {
    let progressed = 0;
    await downloadModel(source(), dir, {
      progress: (_, bytes) => {
        progressed += bytes;
      },
    });
    expect(await allFiles(dir)).toEqual(['model_index.json', 'unet/model.onnx']);
    expect(Buffer.compare(await readFile(join(dir, 'unet/model.onnx')), FILES['unet/model.onnx']!)).toBe(0);
    expect(progressed).toBe(FILES['unet/model.onnx']!.length + FILES['model_index.json']!.length);
  });

  it('resumes a partial download with a Range request for the rest', async () => {
    const whole = FILES['unet/model.onnx']!;
    await mkdir(join(dir, 'unet'), { recursive: true });
    await writeFile(join(dir, 'unet/model.onnx.part'), whole.subarray(0, 100_000));
    await downloadModel(source(), dir);
    expect(ranges.filter((r) => r.path === 'unet/model.onnx').map((r) => r.range)).toEqual([
      `bytes=100000-${whole.length - 1}`,
    ]);
    expect(Buffer.compare(await readFile(join(dir, 'unet/model.onnx')), whole)).toBe(0);
    expect(existsSync(join(dir, 'unet/model.onnx.part'))).toBe(false);
  });

  it('starts the file over when the server ignores the range', async () => {
    honourRanges = false;
    const whole = FILES['unet/model.onnx']!;
    await mkdir(join(dir, 'unet'), { recursive: true });
    await writeFile(join(dir, 'unet/model.onnx.part'), Buffer.alloc(50_000, 1));
    await downloadModel(source(), dir);
    expect(Buffer.compare(await readFile(join(dir, 'unet/model.onnx')), whole)).toBe(0);
  });

  it('refuses a file whose checksum does not match and leaves neither it nor its partial copy', async () => {
    corrupt = 'unet/model.onnx';
    await expect(downloadModel(source(), dir)).rejects.toThrow(/unet\/model.onnx: checksum mismatch/);
    expect(existsSync(join(dir, 'unet/model.onnx'))).toBe(false);
    expect(existsSync(join(dir, 'unet/model.onnx.part'))).toBe(false);
  });

  it('keeps files that are already complete and verified on a second run', async () => {
    await downloadModel(source(), dir);
    ranges = [];
    const skipped: string[] = [];
    await downloadModel(source(), dir, { skipped: (path) => void skipped.push(path) });
    expect(skipped.sort()).toEqual(['model_index.json', 'unet/model.onnx']);
    expect(ranges).toEqual([]);
  });
});
