import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { type CheckResult, runDoctorChecks } from '../../src/doctor/checks.ts';
import { modelFamilyChecks } from '../../src/doctor/model-family-checks.ts';
import { DOWNLOAD_MARKER } from '../../src/models/download-marker.ts';
import { loadCatalog } from '../../src/models/model-catalog.ts';
import { testRedisUrl } from '../support/redis.ts';

/**
 * `easel doctor` says, for each model folder there, which family it holds (from model_index.json),
 * the components the pipeline loads with their size on disk, and what is missing.
 */
const modelsDir = mkdtempSync(join(tmpdir(), 'easel-doctor-families-'));

function write(folder: string, files: Record<string, string | number>): void {
  for (const [path, content] of Object.entries(files)) {
    const file = join(modelsDir, folder, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'number' ? Buffer.alloc(content) : content);
  }
}

const CLIP = (dir: string) => ({ [`${dir}/vocab.json`]: '{}', [`${dir}/merges.txt`]: '' });

beforeAll(() => {
  write('sdxl', {
    'model_index.json': JSON.stringify({ _class_name: 'ORTStableDiffusionXLPipeline' }),
    'scheduler/scheduler_config.json': JSON.stringify({ _class_name: 'EulerDiscreteScheduler' }),
    ...CLIP('tokenizer'),
    ...CLIP('tokenizer_2'),
    'text_encoder/model.onnx': 2_000_000,
    'text_encoder_2/model.onnx': 1_000,
    'text_encoder_2/model.onnx_data': 3_000_000,
    'unet/model.onnx': 1_000,
    'unet/model.onnx_data': 250_000_000,
    'vae_decoder/model.onnx': 5_000_000,
    'vae_encoder/model.onnx': 4_000_000,
  });
  // SD3 without T5 (text_encoder_3 left out) and without a VAE encoder.
  write('sd3-medium', {
    'model_index.json': JSON.stringify({
      _class_name: 'StableDiffusion3Pipeline',
      text_encoder_3: [null, null],
    }),
    'scheduler/scheduler_config.json': JSON.stringify({ _class_name: 'FlowMatchEulerDiscreteScheduler' }),
    ...CLIP('tokenizer'),
    ...CLIP('tokenizer_2'),
    'text_encoder/model.onnx': 1_000_000,
    'text_encoder_2/model.onnx': 1_000_000,
    'transformer/model.onnx': 1_000,
    'transformer/model.onnx.data': 9_000_000,
    'vae_decoder/model.onnx': 1_000_000,
  });
  // An interrupted download: model.onnx files there, the UNet's weights not yet.
  write('sdxl-turbo', {
    'model_index.json': JSON.stringify({ _class_name: 'StableDiffusionXLPipeline' }),
    'unet/model.onnx': 1_000,
    'unet/model.onnx_data.part': 10_000,
    [DOWNLOAD_MARKER]: JSON.stringify({
      repo: 'stabilityai/sdxl-turbo',
      revision: 'main',
      files: ['model_index.json', 'unet/model.onnx', 'unet/model.onnx_data', 'vae_decoder/model.onnx'],
    }),
  });
  // The registry's sd2.1 folder holding an SDXL model.
  write('sd2.1', {
    'model_index.json': JSON.stringify({ _class_name: 'StableDiffusionXLPipeline' }),
    'scheduler/scheduler_config.json': '{}',
    ...CLIP('tokenizer'),
    ...CLIP('tokenizer_2'),
    'text_encoder/model.onnx': 10,
    'text_encoder_2/model.onnx': 10,
    'unet/model.onnx': 10,
    'vae_decoder/model.onnx': 10,
  });
  // A pipeline of no family easel knows.
  write('sd3.5-medium', { 'model_index.json': JSON.stringify({ _class_name: 'FluxPipeline' }) });
  // An SD3 folder missing its transformer.
  write('sd3.5-large', {
    'model_index.json': JSON.stringify({ _class_name: 'StableDiffusion3Pipeline' }),
    'scheduler/scheduler_config.json': '{}',
    ...CLIP('tokenizer'),
    ...CLIP('tokenizer_2'),
    'text_encoder/model.onnx': 10,
    'text_encoder_2/model.onnx': 10,
    'vae_decoder/model.onnx': 10,
  });
});

afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

function checks(): Record<string, CheckResult> {
  const config = parseConfig({ MODELS_DIR: modelsDir });
  return Object.fromEntries(modelFamilyChecks(config, loadCatalog(modelsDir)).map((r) => [r.name, r]));
}

describe('easel doctor: each installed model’s family and components', () => {
  it('names the family, its pipeline class and every component with its size, external weights included', () => {
    expect(checks()['model sdxl']).toEqual({
      name: 'model sdxl',
      status: 'ok',
      detail:
        'Stable Diffusion XL (ORTStableDiffusionXLPipeline, epsilon prediction): text_encoder (2 MB), ' +
        'text_encoder_2 (3 MB), unet (250 MB), vae_decoder (5 MB), vae_encoder (4 MB); 264 MB in all',
    });
  });

  it('says an optional T5 and a VAE encoder are not there, and what that means', () => {
    expect(checks()['model sd3-medium']).toMatchObject({
      status: 'ok',
      detail:
        'Stable Diffusion 3 (StableDiffusion3Pipeline, flow prediction): text_encoder (1 MB), text_encoder_2 (1 MB), ' +
        'transformer (9 MB), vae_decoder (1 MB); text_encoder_3 not installed (optional: prompts are encoded without it); ' +
        '12 MB in all; no vae_encoder: img2img, variations, inpainting and zoom out are unavailable',
    });
  });

  it('reports an interrupted download with the files still to come and the command that resumes it', () => {
    expect(checks()['model sdxl-turbo']).toEqual({
      name: 'model sdxl-turbo',
      status: 'warn',
      detail:
        'download from stabilityai/sdxl-turbo not finished: 2 file(s) still to come (unet/model.onnx_data, vae_decoder/model.onnx).\n' +
        '  Run `easel models download sdxl-turbo` again; it resumes.',
    });
  });

  it('flags a folder whose family is not the one the registry lists', () => {
    expect(checks()['model sd2.1']).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(
        /^the folder holds Stable Diffusion XL \(StableDiffusionXLPipeline, epsilon prediction\), but the registry lists sd2\.1 as sd2/,
      ),
    });
  });

  it('names a missing component of the family, and a folder of no family', () => {
    const detail = (id: string) => checks()[`model ${id}`]?.detail;
    expect(detail('sd3.5-large')).toMatch(
      /is a Stable Diffusion 3 model \(model_index\.json: StableDiffusion3Pipeline\) but transformer\/model\.onnx is missing/,
    );
    expect(detail('sd3.5-large')).toContain('export the model again');
    expect(detail('sd3.5-medium')).toMatch(
      /matches no model family easel knows .* _class_name is FluxPipeline/,
    );
  });

  it('appear in easel doctor’s report beside the models summary', async () => {
    const results = await runDoctorChecks({ REDIS_URL: testRedisUrl(), MODELS_DIR: modelsDir });
    const names = results.map((r) => r.name);
    expect(names).toContain('models');
    expect(names).toEqual(expect.arrayContaining(['model sdxl', 'model sd3-medium', 'model sdxl-turbo']));
  });
});
