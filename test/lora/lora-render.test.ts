import { cpSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_BUILTINS } from '../../src/engine/engine-settings.ts';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import { mergeLoras } from '../../src/engine/lora/lora-merge.ts';
import { OnnxModelWeights } from '../../src/engine/lora/onnx-model-weights.ts';
import { patchedModel } from '../../src/engine/lora/patched-session.ts';
import { ModelStore } from '../../src/engine/model-store.ts';
import type { TensorToWrite } from '../../src/engine/safetensors/encode-safetensors.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import {
  TINY_CONTEXT,
  TINY_FEATURES,
  TINY_LORA_KEYS,
  tinyLoraFolder,
  writeTinyLora,
} from '../support/tiny-loras.ts';
import { type TinyWorld, tinyEntry, tinyRequest, tinyWorld } from '../support/tiny-models.ts';
import { dyadic, f32, loraPair, writeLora } from './named-models.ts';

/** LoRAs reached from a request, through the real pipeline on the tiny SD 1.x model (test/support/tiny-loras.ts). */
const CONTEXT = TINY_CONTEXT;
const FEATURES = TINY_FEATURES;
const TO_K = TINY_LORA_KEYS.toK;

let world: TinyWorld;

const loraFolder = () => tinyLoraFolder(world.modelsDir);
const writeDetailLora = (name: string, extra: Record<string, TensorToWrite> = {}) =>
  writeTinyLora(world.modelsDir, name, extra);

async function render(overrides: Partial<GenerationRequest>, store = world.store) {
  return generatePictures(tinyRequest(overrides), {
    store,
    catalog: world.catalog,
    images: { load: async () => Buffer.alloc(0) },
    maxPixels: 1024 * 1024,
  });
}

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny'] });
  writeDetailLora('detail');
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

describe('LoRAs in a render', () => {
  it('renders exactly what a model exported with the merged weights renders', async () => {
    const loras = [{ name: 'detail', path: join(loraFolder(), 'detail.safetensors'), strength: 0.75 }];
    // The same model with the merged weights written into its files, as an export of the merged model.
    const merged = join(world.modelsDir, 'tiny-merged');
    cpSync(join(world.modelsDir, 'tiny'), merged, { recursive: true });
    const parts = {
      unet: await OnnxModelWeights.load(join(merged, 'unet', 'model.onnx')),
      text_encoder: await OnnxModelWeights.load(join(merged, 'text_encoder', 'model.onnx')),
    };
    const { patches } = await mergeLoras(parts, loras);
    expect([...patches.keys()].sort()).toEqual(['text_encoder', 'unet']);
    for (const [part, patch] of patches) {
      const { bytes } = await patchedModel(parts[part as 'unet']!, patch);
      writeFileSync(join(merged, part, 'model.onnx'), bytes);
    }
    const catalog = { models: [...world.catalog.models, tinyEntry('tiny-merged')] };
    const mergedStore = new ModelStore(
      { modelsDir: world.modelsDir, providers: ['cpu'], threads: 1, builtin: NO_BUILTINS },
      catalog,
      createLogger('silent'),
    );
    try {
      const expected = await generatePictures(tinyRequest({ model: 'tiny-merged' }), {
        store: mergedStore,
        catalog,
        images: { load: async () => Buffer.alloc(0) },
        maxPixels: 1024 * 1024,
      });
      // Without first: the same prompt's plain encoding, just made, must not serve the LoRA's
      // patched text encoder (recent encodings are kept per session).
      const without = await render({});
      const withLora = await render({ loras: [{ name: 'detail', strength: 0.75 }] });
      expect(withLora.pictures[0]!.data.equals(expected.pictures[0]!.data)).toBe(true);
      expect(withLora.pictures[0]!.data.equals(without.pictures[0]!.data)).toBe(false);
      expect(withLora.addOns?.reports).toEqual([{ name: 'detail', matched: 3, total: 3, unmatched: {} }]);
      expect(withLora.warnings).toEqual([]);
    } finally {
      await mergedStore.release();
    }
  });

  it('renders the same pictures with strength 0 as without the LoRA', async () => {
    const zero = await render({ loras: [{ name: 'detail', strength: 0 }] });
    const none = await render({});
    expect(zero.pictures[0]!.data.equals(none.pictures[0]!.data)).toBe(true);
  });

  it('builds a combination once and serves the next job from the cache, whatever order the LoRAs come in', async () => {
    writeDetailLora('other');
    const first = await render({
      loras: [
        { name: 'detail', strength: 0.5 },
        { name: 'other', strength: 1 },
      ],
    });
    const again = await render({
      loras: [
        { name: 'other', strength: 1 },
        { name: 'detail', strength: 0.5 },
      ],
    });
    expect(first.addOns?.cached).toBe(false);
    expect(again.addOns?.cached).toBe(true);
    expect(again.pictures[0]!.data.equals(first.pictures[0]!.data)).toBe(true);
    const keys = world.store.cachedAddOnKeys().filter((k) => k.includes('other'));
    expect(keys).toHaveLength(1);
  });

  it('reports a LoRA that matches only part of the model, with counts, and still renders', async () => {
    const stray = loraPair(9, 2, CONTEXT, [CONTEXT]);
    writeDetailLora('partial', {
      'lora_te_text_model_encoder_layers_7_self_attn_out_proj.lora_down.weight': stray.down,
      'lora_te_text_model_encoder_layers_7_self_attn_out_proj.lora_up.weight': stray.up,
    });
    const out = await render({ loras: [{ name: 'partial', strength: 1 }] });
    expect(out.addOns?.reports).toEqual([
      { name: 'partial', matched: 3, total: 4, unmatched: { lora_te: 1 } },
    ]);
    expect(out.warnings).toEqual([
      'LoRA "partial" patched 3 of its 4 layers; the rest match nothing in tiny',
    ]);
  });

  it('refuses an unknown LoRA, a malformed file, keys matching nothing and a LoRA of another family by name', async () => {
    await expect(render({ loras: [{ name: 'nowhere', strength: 1 }] })).rejects.toMatchObject({
      name: 'UserError',
      message: expect.stringMatching(/^LoRA "nowhere" is not installed on this server \(installed: .*detail/),
    });

    const lying = Buffer.alloc(64);
    lying.writeBigUInt64LE(10_000n, 0);
    writeFileSync(join(loraFolder(), 'lying.safetensors'), lying);
    await expect(render({ loras: [{ name: 'lying', strength: 1 }] })).rejects.toMatchObject({
      name: 'UserError',
      message:
        'LoRA "lying" cannot be used: lying.safetensors is not a valid safetensors file: its header claims 10000 bytes but only 56 follow the length',
    });

    const stray = loraPair(9, 2, CONTEXT, [CONTEXT]);
    writeLora(join(loraFolder(), 'elsewhere.safetensors'), {
      'lora_unet_mid_block_attentions_0_proj_in.lora_down.weight': stray.down,
      'lora_unet_mid_block_attentions_0_proj_in.lora_up.weight': stray.up,
    });
    await expect(render({ loras: [{ name: 'elsewhere', strength: 1 }] })).rejects.toMatchObject({
      name: 'UserError',
      message: 'LoRA "elsewhere" matches no layer of this model (its keys: lora_unet (1)).',
    });

    const te2 = loraPair(11, 2, 12, [12]);
    writeLora(join(loraFolder(), 'xl-style.safetensors'), {
      'lora_te2_text_model_encoder_layers_0_self_attn_out_proj.lora_down.weight': te2.down,
      'lora_te2_text_model_encoder_layers_0_self_attn_out_proj.lora_up.weight': te2.up,
    });
    await expect(render({ loras: [{ name: 'xl-style', strength: 1 }] })).rejects.toMatchObject({
      name: 'UserError',
      message: 'LoRA "xl-style" is an SDXL LoRA and cannot be used with a Stable Diffusion 1.x model',
    });

    const ints = { dtype: 'I32' as const, shape: [2, CONTEXT], values: new Int32Array(2 * CONTEXT) };
    writeLora(join(loraFolder(), 'integers.safetensors'), {
      [`${TO_K}.lora_down.weight`]: ints as never,
      [`${TO_K}.lora_up.weight`]: f32([FEATURES, 2], dyadic(1, FEATURES * 2)),
    });
    await expect(render({ loras: [{ name: 'integers', strength: 1 }] })).rejects.toMatchObject({
      name: 'UserError',
      message: `LoRA "integers" stores "${TO_K}.lora_down.weight" as I32; easel reads F32, F16 and BF16`,
    });
  });
});
