import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadModel, type HubSource } from '../../src/models/hub-download.ts';
import { type FakeHub, startFakeHub } from '../support/fake-hub.ts';

const unetBytes = Buffer.alloc(300_000, 7).map((_, i) => (i * 31) % 251);
const FILES: Record<string, Buffer> = {
  'model_index.json': Buffer.from('{"_class_name": "OnnxStableDiffusionPipeline"}'),
  'unet/model.onnx': Buffer.from(unetBytes),
  'unet/diffusion_pytorch_model.safetensors': Buffer.from('not wanted'),
};

let hub: FakeHub;
let dir: string;

beforeAll(async () => {
  hub = await startFakeHub({ 'easel/tiny-onnx': { files: FILES, lfs: ['unet/model.onnx'] } });
});

afterAll(async () => {
  await hub.close();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-hub-'));
  hub.honourRanges = true;
  hub.corrupt = undefined;
  hub.ranges = [];
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const source = (): HubSource => ({ repo: 'easel/tiny-onnx', revision: 'main', hubUrl: hub.url });

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
    expect(hub.ranges.filter((r) => r.path === 'unet/model.onnx').map((r) => r.range)).toEqual([
      `bytes=100000-${whole.length - 1}`,
    ]);
    expect(Buffer.compare(await readFile(join(dir, 'unet/model.onnx')), whole)).toBe(0);
    expect(existsSync(join(dir, 'unet/model.onnx.part'))).toBe(false);
  });

  it('starts the file over when the server ignores the range', async () => {
    hub.honourRanges = false;
    const whole = FILES['unet/model.onnx']!;
    await mkdir(join(dir, 'unet'), { recursive: true });
    await writeFile(join(dir, 'unet/model.onnx.part'), Buffer.alloc(50_000, 1));
    await downloadModel(source(), dir);
    expect(Buffer.compare(await readFile(join(dir, 'unet/model.onnx')), whole)).toBe(0);
  });

  it('refuses a file whose checksum does not match and leaves neither it nor its partial copy', async () => {
    hub.corrupt = 'unet/model.onnx';
    await expect(downloadModel(source(), dir)).rejects.toThrow(/unet\/model.onnx: checksum mismatch/);
    expect(existsSync(join(dir, 'unet/model.onnx'))).toBe(false);
    expect(existsSync(join(dir, 'unet/model.onnx.part'))).toBe(false);
  });

  it('keeps files that are already complete and verified on a second run', async () => {
    await downloadModel(source(), dir);
    hub.ranges = [];
    const skipped: string[] = [];
    await downloadModel(source(), dir, { skipped: (path) => void skipped.push(path) });
    expect(skipped.sort()).toEqual(['model_index.json', 'unet/model.onnx']);
    expect(hub.ranges).toEqual([]);
  });
});
