import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildLoraSessions,
  createLoraSessionCache,
  loraCombinationKey,
} from '../../src/engine/lora/lora-sessions.ts';
import { OnnxModelWeights } from '../../src/engine/lora/onnx-model-weights.ts';
import { createLogger } from '../../src/log/logger.ts';
import {
  buildNamedModel,
  defaultWeights,
  loraPair,
  type NamedModelSpec,
  reference,
  runNamed,
  writeLora,
} from './named-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'easel-lora-sessions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const UNET: NamedModelSpec = {
  channels: 4,
  linears: ['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'],
};
const TEXT: NamedModelSpec = { channels: 4, linears: ['text_model.encoder.layers.0.self_attn.v_proj'] };

function logged() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

describe('sessions of LoRA combinations', () => {
  it('merges into the UNet and text encoder, logs the merge time, and serves the combination from the cache next time', async () => {
    const unetPath = join(dir, 'unet.onnx');
    const textPath = join(dir, 'text_encoder.onnx');
    writeFileSync(unetPath, buildNamedModel(UNET));
    writeFileSync(textPath, buildNamedModel(TEXT));
    const models = {
      unet: await OnnxModelWeights.load(unetPath),
      text_encoder: await OnnxModelWeights.load(textPath),
    };
    const q = loraPair(1, 2, 4, [4]);
    const v = loraPair(2, 2, 4, [4]);
    const path = writeLora(join(dir, 'both.safetensors'), {
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight': q.down,
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight': q.up,
      'lora_te_text_model_encoder_layers_0_self_attn_v_proj.lora_down.weight': v.down,
      'lora_te_text_model_encoder_layers_0_self_attn_v_proj.lora_up.weight': v.up,
      'lora_te_text_model_encoder_layers_5_self_attn_v_proj.lora_down.weight': v.down,
      'lora_te_text_model_encoder_layers_5_self_attn_v_proj.lora_up.weight': v.up,
    });
    const loras = [{ name: 'both', path, strength: 0.5 }];
    const { logger, lines } = logged();
    const cache = createLoraSessionCache(1024 ** 3);
    const key = loraCombinationKey('tiny', loras);
    const first = await cache.use(
      key,
      () => buildLoraSessions(models, loras, logger),
      async (value, cached) => {
        const unetOut = await runNamed(value.sessions.get('unet')!, UNET);
        const textOut = await runNamed(value.sessions.get('text_encoder')!, TEXT);
        return { cached, unetOut, textOut, reports: value.reports };
      },
    );
    const weights = (spec: NamedModelSpec, module: string, pair: typeof q) => ({
      ...spec,
      weights: { [module]: reference(defaultWeights(spec)[module]!, [{ ...pair, coefficient: 0.5 }]) },
    });
    expect(first.cached).toBe(false);
    expect(first.unetOut).toEqual(await runNamed(buildNamedModel(weights(UNET, UNET.linears![0]!, q)), UNET));
    expect(first.textOut).toEqual(await runNamed(buildNamedModel(weights(TEXT, TEXT.linears![0]!, v)), TEXT));
    expect(first.reports).toEqual([{ name: 'both', matched: 2, total: 3, unmatched: { lora_te: 1 } }]);

    const warning = lines.find((l) => l.level === 40);
    expect(warning?.msg).toBe('LoRA "both" patches 2 of its 3 layers');
    const merged = lines.find((l) => l.msg === 'LoRAs merged');
    expect(merged).toMatchObject({
      loras: ['both:0.5'],
      parts: ['unet: 1 weights', 'text_encoder: 1 weights'],
    });
    expect(typeof merged?.mergeMs).toBe('number');
    expect(typeof merged?.sessionMs).toBe('number');

    const again = await cache.use(
      key,
      () => buildLoraSessions(models, loras, logger),
      async (_, cached) => cached,
    );
    expect(again).toBe(true);
    expect(lines.filter((l) => l.msg === 'LoRAs merged')).toHaveLength(1);
    await cache.clear();
  });

  it('names a combination the same whatever order its LoRAs come in', () => {
    const a = { name: 'a', path: 'a', strength: 0.5 };
    const b = { name: 'b', path: 'b', strength: 1 };
    expect(loraCombinationKey('m', [a, b])).toBe(loraCombinationKey('m', [b, a]));
    expect(loraCombinationKey('m', [a, b])).not.toBe(loraCombinationKey('m', [a, { ...b, strength: 0.9 }]));
  });
});
