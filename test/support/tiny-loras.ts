import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TensorToWrite } from '../../src/engine/safetensors/encode-safetensors.ts';
import { f32, loraPair, writeLora } from '../lora/named-models.ts';

/**
 * LoRA files for the tiny SD 1.x model (`tinyWorld`), in kohya's key format, written into
 * MODELS_DIR/loras: they patch its UNet's cross-attention `to_k` (an anonymous MatMul found through
 * its node's scope), its `conv_in` (a named Conv) and its text encoder's `out_proj`. Widths: 32 for
 * the tiny CLIP, 8 UNet feature channels, 4 latent channels.
 */
export const TINY_LORA_KEYS = {
  toK: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k',
  convIn: 'lora_unet_conv_in',
  outProj: 'lora_te_text_model_encoder_layers_0_self_attn_out_proj',
} as const;
export const TINY_CONTEXT = 32;
export const TINY_FEATURES = 8;

export function tinyLoraFolder(modelsDir: string): string {
  const dir = join(modelsDir, 'loras');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A LoRA of the three layers, plus any `extra` tensors; returns its path. */
export function writeTinyLora(
  modelsDir: string,
  name: string,
  extra: Record<string, TensorToWrite> = {},
  seed = 3,
): string {
  const { toK, convIn, outProj } = TINY_LORA_KEYS;
  const k = loraPair(seed, 2, TINY_FEATURES, [TINY_CONTEXT]);
  const conv = loraPair(seed + 2, 2, TINY_FEATURES, [4, 3, 3], true);
  const text = loraPair(seed + 4, 4, TINY_CONTEXT, [TINY_CONTEXT]);
  return writeLora(join(tinyLoraFolder(modelsDir), `${name}.safetensors`), {
    [`${toK}.lora_down.weight`]: k.down,
    [`${toK}.lora_up.weight`]: k.up,
    [`${toK}.alpha`]: f32([], Float32Array.of(1)),
    [`${convIn}.lora_down.weight`]: conv.down,
    [`${convIn}.lora_up.weight`]: conv.up,
    [`${outProj}.lora_down.weight`]: text.down,
    [`${outProj}.lora_up.weight`]: text.up,
    ...extra,
  });
}
