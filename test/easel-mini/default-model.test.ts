import { existsSync, utimesSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { folderAndChildren } from '../../src/models/folder-memo.ts';
import { loadCatalog } from '../../src/models/model-catalog.ts';
import { isInstalled } from '../../src/models/model-folder.ts';
import { findModel } from '../../src/models/registry.ts';
import { defaultModelId } from '../../src/request/default-model.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import { validateRequest } from '../../src/request/validate-request.ts';

/** The files the engine checks to call a diffusion model installed (their contents do not matter here). */
const MODEL_FILES = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'tokenizer/tokenizer.json',
  'text_encoder/model.onnx',
  'unet/model.onnx',
  'vae_decoder/model.onnx',
  'vae_encoder/model.onnx',
];

let modelsDir: string;

beforeEach(async () => {
  modelsDir = await mkdtemp(join(tmpdir(), 'easel-default-model-'));
});

afterEach(async () => {
  await rm(modelsDir, { recursive: true, force: true });
});

async function installFake(folder: string, files = MODEL_FILES): Promise<void> {
  for (const file of files) {
    await mkdir(dirname(join(modelsDir, folder, file)), { recursive: true });
    await writeFile(join(modelsDir, folder, file), '{}');
  }
}

describe('the default model', () => {
  it('is easel-mini, installed from the package, when MODELS_DIR holds no other model', () => {
    const catalog = loadCatalog(modelsDir);
    expect(defaultModelId('', catalog, modelsDir)).toBe('easel-mini');
    expect(isInstalled(findModel(catalog, 'easel-mini')!, modelsDir)).toBe(true);
  });

  it('is an installed Stable Diffusion 1.5 when DEFAULT_MODEL is empty', async () => {
    await installFake('sd-1.5');
    expect(defaultModelId('', loadCatalog(modelsDir), modelsDir)).toBe('sd-1.5');
  });

  it('stays easel-mini when the other model is incomplete, an inpainting model or the smoke-test model', async () => {
    await installFake(
      'sd-1.5',
      MODEL_FILES.filter((f) => f !== 'unet/model.onnx'),
    );
    await installFake('sd-1.5-inpainting');
    await installFake('easel-tiny');
    expect(defaultModelId('', loadCatalog(modelsDir), modelsDir)).toBe('easel-mini');
  });

  it('follows the install as it changes, for one registry asked on every request (a long-installed folder too)', async () => {
    const catalog = loadCatalog(modelsDir);
    /** mtimes a minute back: the answer is kept, so only the folders' changes can move it. */
    const settle = () => {
      const past = new Date(Date.now() - 60_000);
      for (const folder of [modelsDir, ...folderAndChildren(join(modelsDir, 'sd-1.5'))])
        if (existsSync(folder)) utimesSync(folder, past, past);
    };
    settle();
    expect(defaultModelId('', catalog, modelsDir)).toBe('easel-mini');
    await installFake('sd-1.5');
    settle();
    expect(defaultModelId('', catalog, modelsDir)).toBe('sd-1.5');
    expect(defaultModelId('', catalog, modelsDir)).toBe('sd-1.5');
    // A part of the model removed (one level down, in unet/): no longer installed.
    await rm(join(modelsDir, 'sd-1.5', 'unet', 'model.onnx'));
    expect(defaultModelId('', catalog, modelsDir)).toBe('easel-mini');
    settle();
    expect(defaultModelId('', catalog, modelsDir)).toBe('easel-mini');
    await writeFile(join(modelsDir, 'sd-1.5', 'unet', 'model.onnx'), '{}');
    expect(defaultModelId('', catalog, modelsDir)).toBe('sd-1.5');
  });

  it('is DEFAULT_MODEL when set, whatever is installed', async () => {
    await installFake('sd-1.5');
    expect(defaultModelId('sd-turbo', loadCatalog(modelsDir), modelsDir)).toBe('sd-turbo');
    expect(defaultModelId('mini', loadCatalog(modelsDir), modelsDir)).toBe('mini');
  });

  it("gives a prompt without --model easel-mini's size, steps, guidance and sampler", () => {
    const registry = loadCatalog(modelsDir);
    const validated = validateRequest(parsePromptFlags('a red circle on a blue background --seed 7'), {
      registry,
      defaultModel: defaultModelId('', registry, modelsDir),
    });
    expect(validated.ok).toBe(true);
    if (!validated.ok) return;
    expect(validated.request).toMatchObject({
      model: 'easel-mini',
      prompt: 'a red circle on a blue background',
      width: 512,
      height: 512,
      steps: 25,
      guidance: 1.5,
      sampler: 'ddim',
      seed: 7,
    });
  });
});
