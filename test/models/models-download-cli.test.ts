import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/engine/safetensors/encode-safetensors.ts';
import { type FakeHub, startFakeHub } from '../support/fake-hub.ts';

/** The real `easel models download` against the local fake hub (HF_ENDPOINT). */
const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'easel-download-cli-'));
let hub: FakeHub;

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

beforeAll(async () => {
  hub = await startFakeHub({
    'someone/sdxl-onnx': {
      files: {
        'model_index.json': json({ _class_name: 'ORTStableDiffusionXLPipeline' }),
        'scheduler/scheduler_config.json': json({ _class_name: 'EulerDiscreteScheduler' }),
        'tokenizer/vocab.json': json({}),
        'tokenizer/merges.txt': Buffer.from(''),
        'tokenizer_2/vocab.json': json({}),
        'tokenizer_2/merges.txt': Buffer.from(''),
        'text_encoder/model.onnx': Buffer.alloc(2_000, 1),
        'text_encoder_2/model.onnx': Buffer.alloc(2_000, 2),
        'text_encoder_2/model.onnx_data': Buffer.alloc(50_000, 3),
        'unet/model.onnx': Buffer.alloc(3_000, 4),
        'unet/model.onnx_data': Buffer.alloc(80_000, 5),
        'vae_decoder/model.onnx': Buffer.alloc(2_000, 6),
        'vae_encoder/model.onnx': Buffer.alloc(2_000, 7),
      },
      lfs: ['unet/model.onnx_data', 'text_encoder_2/model.onnx_data'],
    },
    'someone/detail-lora': {
      files: {
        'README.md': Buffer.from('# a LoRA'),
        'detail_tweaker.safetensors': Buffer.from(
          encodeSafetensors({
            'lora_unet_conv_in.lora_down.weight': {
              dtype: 'F32',
              shape: [2, 4, 3, 3],
              values: new Float32Array(72),
            },
            'lora_unet_conv_in.lora_up.weight': {
              dtype: 'F32',
              shape: [8, 2, 1, 1],
              values: new Float32Array(16),
            },
          }),
        ),
        'not-a-lora.safetensors': Buffer.from(
          encodeSafetensors({ weight: { dtype: 'F32', shape: [2], values: new Float32Array(2) } }),
        ),
      },
      lfs: ['detail_tweaker.safetensors'],
    },
  });
});

afterAll(async () => {
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

async function easel(args: string[]) {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    MODELS_DIR: join(root, 'models'),
    DATA_DIR: join(root, 'data'),
    HF_ENDPOINT: hub.url,
  };
  try {
    const { stdout, stderr } = await run('node', ['bin/easel.js', ...args], { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('easel models download --lora (the real binary)', () => {
  it('fetches the named file into MODELS_DIR/loras, and refuses a file that is not a LoRA, keeping nothing', async () => {
    const several = await easel(['models', 'download', 'someone/detail-lora', '--lora']);
    expect(several.code).toBe(1);
    expect(several.stderr).toContain(
      'someone/detail-lora@main holds 2 .safetensors files (detail_tweaker.safetensors, not-a-lora.safetensors); name one with --file',
    );
    const done = await easel([
      'models',
      'download',
      'someone/detail-lora',
      '--lora',
      '--file',
      'detail_tweaker.safetensors',
    ]);
    expect(done.code, done.stderr).toBe(0);
    const path = join(root, 'models', 'loras', 'detail_tweaker.safetensors');
    expect(done.stdout).toContain(`done: ${path}; members use it with <lora:detail_tweaker:0.8>`);
    expect(existsSync(path)).toBe(true);

    const bad = await easel([
      'models',
      'download',
      'someone/detail-lora',
      '--lora',
      '--file',
      'not-a-lora.safetensors',
      '--name',
      'nothing',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'someone/detail-lora/not-a-lora.safetensors cannot be used as a lora: holds no LoRA layers easel can merge',
    );
    expect(readdirSync(join(root, 'models', 'loras'))).toEqual(['detail_tweaker.safetensors']);
  }, 120_000);
});

describe('easel models download (the real binary)', () => {
  it('fetches an SDXL export from the hub, says it is complete and registers the unknown repo', async () => {
    const { code, stdout } = await easel(['models', 'download', 'someone/sdxl-onnx']);
    expect(code).toBe(0);
    const dir = join(root, 'models', 'sdxl-onnx');
    expect(stdout).toContain(`someone/sdxl-onnx@main: 13 files`);
    expect(stdout).toContain(`done: ${dir} is complete`);
    expect(existsSync(join(dir, 'unet', 'model.onnx_data'))).toBe(true);
    expect(existsSync(join(dir, '.easel-download.json'))).toBe(false);
    const local = JSON.parse(readFileSync(join(root, 'models', 'registry.json'), 'utf8')) as {
      models: { id: string; hub: { repo: string } }[];
    };
    expect(local.models.map((m) => [m.id, m.hub.repo])).toEqual([['sdxl-onnx', 'someone/sdxl-onnx']]);
  }, 180_000);

  it('refuses an SD3 model the hub has no ONNX export of, printing the export command, and writes nothing', async () => {
    const requestsBefore = hub.ranges.length;
    const { code, stderr } = await easel(['models', 'download', 'sd3-large']);
    expect(code).toBe(1);
    expect(stderr).toContain('there is no ONNX export of sd3.5-large on the hub in the layout easel reads');
    expect(stderr).toContain(
      'optimum-cli export onnx --model stabilityai/stable-diffusion-3.5-large --task text-to-image sd3.5-large',
    );
    expect(existsSync(join(root, 'models', 'sd3.5-large'))).toBe(false);
    expect(hub.ranges).toHaveLength(requestsBefore);
  }, 180_000);
});
