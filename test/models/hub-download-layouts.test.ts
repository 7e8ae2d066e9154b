import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DOWNLOAD_MARKER } from '../../src/models/download-marker.ts';
import { downloadModel, type HubSource } from '../../src/models/hub-download.ts';
import { missingFamilyFiles } from '../../src/models/model-family.ts';
import { missingModelFiles } from '../../src/models/model-folder.ts';
import { findModel, loadRegistry } from '../../src/models/registry.ts';
import { type FakeHub, startFakeHub } from '../support/fake-hub.ts';

/** Bytes that differ from position to position, so a misplaced resume shows in the comparison. */
function ramp(length: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) % 251));
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
// An empty file (some exports' merges.txt) is fetched like any other.
const CLIP_TOKENIZER = { 'vocab.json': json({ a: 0 }), 'merges.txt': Buffer.alloc(0) };

function component(dir: string, files: Record<string, Buffer>): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(files).map(([name, bytes]) => [`${dir}/${name}`, bytes]));
}

/** An SDXL export as stabilityai/stable-diffusion-xl-base-1.0 lays it out, PyTorch and OpenVINO files beside it. */
const SDXL: Record<string, Buffer> = {
  'model_index.json': json({
    _class_name: 'StableDiffusionXLPipeline',
    text_encoder: ['transformers', 'CLIPTextModel'],
    text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
    unet: ['diffusers', 'UNet2DConditionModel'],
  }),
  'scheduler/scheduler_config.json': json({ _class_name: 'EulerDiscreteScheduler' }),
  ...component('tokenizer', CLIP_TOKENIZER),
  ...component('tokenizer_2', CLIP_TOKENIZER),
  'text_encoder/model.onnx': ramp(3_000, 1),
  'text_encoder_2/model.onnx': ramp(2_000, 2),
  'text_encoder_2/model.onnx_data': ramp(90_000, 3),
  'unet/model.onnx': ramp(4_000, 4),
  'unet/diffusion_pytorch_model.safetensors': ramp(1_000, 6),
  'unet/openvino_model.xml': ramp(500, 7),
  'unet/openvino_model.bin': ramp(500, 8),
  'vae_decoder/model.onnx': ramp(5_000, 9),
  'vae_encoder/model.onnx': ramp(5_000, 10),
  'sd_xl_base_1.0.safetensors': ramp(1_000, 11),
  // Listed last, so a cut inside it leaves every other file of the family in place.
  'unet/model.onnx_data': ramp(400_000, 5),
};
const SDXL_LFS = ['text_encoder_2/model.onnx_data', 'unet/model.onnx_data', 'unet/model.onnx'];

/** An SD3 export: transformer/, three text encoders, external weights under two other names. */
const SD3: Record<string, Buffer> = {
  'model_index.json': json({ _class_name: 'StableDiffusion3Pipeline' }),
  'scheduler/scheduler_config.json': json({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 }),
  ...component('tokenizer', CLIP_TOKENIZER),
  ...component('tokenizer_2', CLIP_TOKENIZER),
  'tokenizer_3/tokenizer.json': json({ model: { type: 'Unigram' } }),
  'text_encoder/model.onnx': ramp(1_000, 12),
  'text_encoder_2/model.onnx': ramp(1_000, 13),
  'text_encoder_3/model.onnx': ramp(1_000, 14),
  'text_encoder_3/model.onnx.data': ramp(60_000, 15),
  'transformer/model.onnx': ramp(2_000, 16),
  'transformer/weights.pb': ramp(80_000, 17),
  'vae_decoder/model.onnx': ramp(1_000, 18),
  'vae_encoder/model.onnx': ramp(1_000, 19),
};

/** PyTorch weights at the root, the ONNX export in onnx/. */
const ONNX_SUBFOLDER: Record<string, Buffer> = {
  'model_index.json': Buffer.from('{"_class_name": "StableDiffusionPipeline"}'),
  'unet/diffusion_pytorch_model.safetensors': ramp(1_000, 20),
  'onnx/model_index.json': Buffer.from('{"_class_name": "ORTStableDiffusionPipeline"}'),
  'onnx/unet/model.onnx': ramp(2_000, 21),
};
// The root's model_index.json would make the root the model: only a root without one falls to onnx/.
delete ONNX_SUBFOLDER['model_index.json'];

/** Two exports side by side, as greentree/SDXL-olive-optimized keeps them. */
const SIDE_BY_SIDE: Record<string, Buffer> = {
  'stable-diffusion-xl-base-1.0/model_index.json': json({ _class_name: 'ORTStableDiffusionXLPipeline' }),
  'stable-diffusion-xl-base-1.0/unet/model.onnx': ramp(1_000, 22),
  'stable-diffusion-xl-refiner-1.0/model_index.json': json({
    _class_name: 'ORTStableDiffusionXLImg2ImgPipeline',
  }),
  'stable-diffusion-xl-refiner-1.0/unet/model.onnx': ramp(1_500, 23),
  'stable-diffusion-xl-refiner-1.0/text_encoder_2/model.onnx': ramp(1_200, 24),
};

const PYTORCH_ONLY: Record<string, Buffer> = {
  'model_index.json': json({ _class_name: 'StableDiffusion3Pipeline' }),
  'transformer/diffusion_pytorch_model.safetensors': ramp(1_000, 25),
};

let hub: FakeHub;
let dir: string;

beforeAll(async () => {
  hub = await startFakeHub({
    'stabilityai/sdxl': { files: SDXL, lfs: SDXL_LFS },
    'org/sd3-onnx': { files: SD3, lfs: ['transformer/weights.pb', 'text_encoder_3/model.onnx.data'] },
    'org/with-onnx-folder': { files: ONNX_SUBFOLDER },
    'org/side-by-side': { files: SIDE_BY_SIDE },
    'stabilityai/pytorch-only': { files: PYTORCH_ONLY },
  });
});

afterAll(async () => {
  await hub.close();
});

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'easel-layouts-')), 'model');
  hub.honourRanges = true;
  hub.cut = undefined;
  hub.ranges = [];
});

afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

const source = (repo: string, extra: Partial<HubSource> = {}): HubSource => ({
  repo,
  revision: 'main',
  hubUrl: hub.url,
  ...extra,
});

async function allFiles(root: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await allFiles(root, rel)));
    else out.push(rel);
  }
  return out.sort();
}

async function sameBytes(local: string, expected: Buffer): Promise<boolean> {
  return Buffer.compare(await readFile(join(dir, local)), expected) === 0;
}

const sdxl = findModel(loadRegistry(), 'sdxl')!;

describe('easel models download: every layout', () => {
  it('fetches an SDXL export with its second text encoder and external weights, none of the PyTorch or OpenVINO files', async () => {
    await downloadModel(source('stabilityai/sdxl'), dir);
    expect(await allFiles(dir)).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'text_encoder/model.onnx',
      'text_encoder_2/model.onnx',
      'text_encoder_2/model.onnx_data',
      'tokenizer/merges.txt',
      'tokenizer/vocab.json',
      'tokenizer_2/merges.txt',
      'tokenizer_2/vocab.json',
      'unet/model.onnx',
      'unet/model.onnx_data',
      'vae_decoder/model.onnx',
      'vae_encoder/model.onnx',
    ]);
    expect(await sameBytes('unet/model.onnx_data', SDXL['unet/model.onnx_data']!)).toBe(true);
    expect(missingModelFiles(sdxl, dir)).toEqual([]);
  });

  it('fetches an SD3 export: transformer/, text_encoder_3/, tokenizer_3/ and weights named model.onnx.data and weights.pb', async () => {
    await downloadModel(source('org/sd3-onnx'), dir);
    expect(await allFiles(dir)).toEqual(Object.keys(SD3).sort());
    expect(await sameBytes('transformer/weights.pb', SD3['transformer/weights.pb']!)).toBe(true);
    expect(await sameBytes('text_encoder_3/model.onnx.data', SD3['text_encoder_3/model.onnx.data']!)).toBe(
      true,
    );
    expect(missingModelFiles(findModel(loadRegistry(), 'sd3-medium')!, dir)).toEqual([]);
  });

  it('takes the model from onnx/ when the root has no model_index.json but that folder does', async () => {
    await downloadModel(source('org/with-onnx-folder'), dir);
    expect(await allFiles(dir)).toEqual(['model_index.json', 'unet/model.onnx']);
    expect(await sameBytes('unet/model.onnx', ONNX_SUBFOLDER['onnx/unet/model.onnx']!)).toBe(true);
  });

  it('takes only the named subfolder of a repo holding several exports, its paths below that folder', async () => {
    await downloadModel(source('org/side-by-side', { subfolder: 'stable-diffusion-xl-refiner-1.0' }), dir);
    expect(await allFiles(dir)).toEqual(['model_index.json', 'text_encoder_2/model.onnx', 'unet/model.onnx']);
    expect(hub.ranges.map((r) => r.path).every((p) => p.startsWith('stable-diffusion-xl-refiner-1.0/'))).toBe(
      true,
    );
  });

  it('refuses a repo with no ONNX export, saying how to make one, and writes nothing', async () => {
    await expect(downloadModel(source('stabilityai/pytorch-only'), dir)).rejects.toThrow(
      'stabilityai/pytorch-only@main holds no ONNX export (no .onnx files), which is all easel can run; export one with optimum-cli',
    );
    expect(existsSync(dir)).toBe(false);
    expect(hub.ranges).toEqual([]);
  });

  it('refuses a subfolder the repo does not have', async () => {
    await expect(downloadModel(source('org/side-by-side', { subfolder: 'sd3' }), dir)).rejects.toThrow(
      'org/side-by-side@main (folder sd3/) has no files to fetch',
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses an unknown repo, naming it and HF_TOKEN for gated ones', async () => {
    await expect(downloadModel(source('org/absent'), dir)).rejects.toThrow(
      /cannot list org\/absent@main on http:\/\/127\.0\.0\.1:\d+: .*gated or private repo needs HF_TOKEN/,
    );
    expect(existsSync(dir)).toBe(false);
  });
});

describe('easel models download: an interrupted download', () => {
  it('leaves a folder that counts as incomplete even though every model.onnx is there, then resumes it', async () => {
    const weights = SDXL['unet/model.onnx_data']!;
    hub.cut = { path: 'unet/model.onnx_data', bytes: 150_000 };
    await expect(downloadModel(source('stabilityai/sdxl'), dir)).rejects.toThrow();

    // The connection dropped inside the UNet's external weights: its model.onnx is in place, the
    // weights only as a partial file, which is never taken for the real one.
    expect(existsSync(join(dir, 'unet/model.onnx'))).toBe(true);
    expect(existsSync(join(dir, 'unet/model.onnx_data'))).toBe(false);
    expect(existsSync(join(dir, 'unet/model.onnx_data.part'))).toBe(true);
    expect(existsSync(join(dir, DOWNLOAD_MARKER))).toBe(true);
    // Without the marker the family's own check (model.onnx files) would see a complete folder...
    expect(missingFamilyFiles(dir)).toEqual([]);
    // ...with it the folder lacks exactly what the download has yet to bring.
    expect(missingModelFiles(sdxl, dir)).toEqual(['unet/model.onnx_data']);

    hub.ranges = [];
    await downloadModel(source('stabilityai/sdxl'), dir);
    const unetRange = hub.ranges.find((r) => r.path === 'unet/model.onnx_data')?.range;
    const resumedFrom = Number(/^bytes=(\d+)-/.exec(unetRange ?? '')?.[1]);
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(150_000);
    // Files finished before the cut are not fetched again.
    expect(hub.ranges.map((r) => r.path)).not.toContain('text_encoder_2/model.onnx_data');
    expect(await sameBytes('unet/model.onnx_data', weights)).toBe(true);
    expect(existsSync(join(dir, 'unet/model.onnx_data.part'))).toBe(false);
    expect(existsSync(join(dir, DOWNLOAD_MARKER))).toBe(false);
    expect(missingModelFiles(sdxl, dir)).toEqual([]);
  });
});
