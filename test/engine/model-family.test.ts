import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectModelFamily, missingFamilyFiles } from '../../src/models/model-family.ts';

/** Family detection from the folder's files alone (placeholder model.onnx files: nothing is loaded). */
const root = mkdtempSync(join(tmpdir(), 'easel-family-detect-'));
let counter = 0;

afterAll(() => rmSync(root, { recursive: true, force: true }));

function folder(
  index: Record<string, unknown>,
  files: string[],
  extra: Record<string, unknown> = {},
): string {
  const dir = join(root, String(counter++));
  const write = (path: string, content: string) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  };
  write('model_index.json', JSON.stringify(index));
  write(
    'scheduler/scheduler_config.json',
    JSON.stringify(extra.scheduler ?? { _class_name: 'EulerDiscreteScheduler' }),
  );
  if (extra.unet !== undefined) write('unet/config.json', JSON.stringify(extra.unet));
  for (const file of files) write(file, 'placeholder');
  return dir;
}

const tok = (part: string) => `${part}/tokenizer.json`;
const onnx = (part: string) => `${part}/model.onnx`;
const SD = [onnx('text_encoder'), tok('tokenizer'), onnx('unet'), onnx('vae_decoder'), onnx('vae_encoder')];
const XL = [...SD, onnx('text_encoder_2'), tok('tokenizer_2')];
const SD3 = [
  onnx('text_encoder'),
  tok('tokenizer'),
  onnx('text_encoder_2'),
  tok('tokenizer_2'),
  onnx('transformer'),
  onnx('vae_decoder'),
];

describe('detectModelFamily', () => {
  it('tells SD 1 from SD 2 by the UNet config, and reads v-prediction from the scheduler', () => {
    expect(detectModelFamily(folder({ _class_name: 'OnnxStableDiffusionPipeline' }, SD)).family).toBe('sd1');
    const sd2 = detectModelFamily(
      folder({ _class_name: 'StableDiffusionPipeline' }, SD, {
        unet: { cross_attention_dim: 1024 },
        scheduler: { _class_name: 'DDIMScheduler', prediction_type: 'v_prediction' },
      }),
    );
    expect([sd2.family, sd2.predictionType]).toEqual(['sd2', 'v_prediction']);
  });

  it('finds SDXL by its second encoder (with force_zeros_for_empty_prompt on by default) and the refiner by its missing first one', () => {
    const xl = detectModelFamily(folder({ _class_name: 'ORTStableDiffusionXLPipeline' }, XL));
    expect([xl.family, xl.forceZerosForEmptyPrompt]).toEqual(['sdxl', true]);
    expect(xl.text.map((t) => t.encoder)).toEqual(['text_encoder', 'text_encoder_2']);
    const refiner = detectModelFamily(
      folder(
        {
          _class_name: 'StableDiffusionXLImg2ImgPipeline',
          text_encoder: [null, null],
          requires_aesthetics_score: true,
        },
        XL.filter((f) => !f.startsWith('text_encoder/') && !f.startsWith('tokenizer/')),
      ),
    );
    expect([refiner.family, refiner.requiresAestheticsScore]).toEqual(['sdxl-refiner', true]);
    // Without a _class_name, the folders still tell.
    expect(detectModelFamily(folder({}, XL)).family).toBe('sdxl');
  });

  it('finds SD 3 with or without T5; a T5 folder without its tokenizer is a broken download', () => {
    const sd3 = detectModelFamily(
      folder({ _class_name: 'StableDiffusion3Pipeline' }, SD3, {
        scheduler: { _class_name: 'FlowMatchEulerDiscreteScheduler' },
      }),
    );
    expect([sd3.family, sd3.denoiser, sd3.predictionType]).toEqual(['sd3', 'transformer', 'flow']);
    expect(sd3.text.map((t) => [t.encoder, t.present])).toEqual([
      ['text_encoder', true],
      ['text_encoder_2', true],
      ['text_encoder_3', false],
    ]);
    const broken = folder({ _class_name: 'StableDiffusion3Pipeline' }, [...SD3, onnx('text_encoder_3')]);
    expect(() => detectModelFamily(broken)).toThrow(/tokenizer_3\/tokenizer.json is missing/);
    expect(missingFamilyFiles(broken, false)).toEqual(['tokenizer_3/tokenizer.json']);
  });

  it('names every missing component, the image encoder only for modes that need it', () => {
    const dir = folder({ _class_name: 'StableDiffusionXLPipeline' }, [
      onnx('text_encoder'),
      tok('tokenizer'),
      onnx('vae_decoder'),
    ]);
    expect(() => detectModelFamily(dir)).toThrow(
      /is a Stable Diffusion XL model .* but text_encoder_2\/model.onnx, unet\/model.onnx are missing/,
    );
    expect(missingFamilyFiles(dir, true)).toEqual([
      'text_encoder_2/model.onnx',
      'unet/model.onnx',
      'vae_encoder/model.onnx',
    ]);
    expect(missingFamilyFiles(dir, false)).not.toContain('vae_encoder/model.onnx');
  });

  it('refuses a pipeline of another kind, and a folder without model_index.json', () => {
    expect(() => detectModelFamily(folder({ _class_name: 'KandinskyV22Pipeline' }, SD))).toThrow(
      /matches no model family easel knows .*KandinskyV22Pipeline/,
    );
    expect(() => detectModelFamily(join(root, 'nowhere'))).toThrow(/model_index.json is missing/);
    expect(missingFamilyFiles(join(root, 'nowhere'))).toBeUndefined();
  });
});
