import { describe, expect, it } from 'vitest';
import { sgmToDiffusersFlat } from '../../src/engine/lora/kohya-sgm-names.ts';
import { parseLoraKey } from '../../src/engine/lora/lora-keys.ts';

describe('LoRA key names', () => {
  it('reads kohya keys of the UNet and of SD 1.x and SDXL text encoders', () => {
    expect(parseLoraKey('lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight')).toEqual({
      component: 'unet',
      module: 'down_blocks_0_attentions_0_proj_in',
      flat: true,
      role: 'down',
      prefix: 'lora_unet',
    });
    expect(parseLoraKey('lora_te_text_model_encoder_layers_3_mlp_fc1.alpha')).toMatchObject({
      component: 'text_encoder',
      role: 'alpha',
    });
    expect(
      parseLoraKey('lora_te1_text_model_encoder_layers_0_self_attn_k_proj.lora_up.weight'),
    ).toMatchObject({
      component: 'text_encoder',
      role: 'up',
      prefix: 'lora_te1',
    });
    expect(
      parseLoraKey('lora_te2_text_model_encoder_layers_0_self_attn_k_proj.lora_up.weight'),
    ).toMatchObject({
      component: 'text_encoder_2',
      module: 'text_model_encoder_layers_0_self_attn_k_proj',
    });
  });

  it('reads diffusers keys, attention processors included, and PEFT keys as module paths', () => {
    const path = (key: string) => {
      const parsed = parseLoraKey(key);
      return parsed && 'module' in parsed ? [parsed.component, parsed.module, parsed.role] : parsed;
    };
    expect(path('unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0.lora.up.weight')).toEqual([
      'unet',
      'mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0',
      'up',
    ]);
    expect(
      path('unet.up_blocks.1.attentions.2.transformer_blocks.0.attn1.processor.to_out_lora.down.weight'),
    ).toEqual(['unet', 'up_blocks.1.attentions.2.transformer_blocks.0.attn1.to_out.0', 'down']);
    expect(path('text_encoder.text_model.encoder.layers.0.self_attn.to_k_lora.down.weight')).toEqual([
      'text_encoder',
      'text_model.encoder.layers.0.self_attn.k_proj',
      'down',
    ]);
    expect(
      path('text_encoder_2.text_model.encoder.layers.1.self_attn.q_proj.lora_linear_layer.up.weight'),
    ).toEqual(['text_encoder_2', 'text_model.encoder.layers.1.self_attn.q_proj', 'up']);
    expect(path('unet.down_blocks.1.attentions.0.proj_in.lora_B.weight')).toEqual([
      'unet',
      'down_blocks.1.attentions.0.proj_in',
      'up',
    ]);
    expect(path('base_model.model.down_blocks.0.resnets.1.conv2.lora_A.default.weight')).toEqual([
      'unet',
      'down_blocks.0.resnets.1.conv2',
      'down',
    ]);
    expect(path('base_model.model.text_model.encoder.layers.0.mlp.fc2.lora_A.weight')).toEqual([
      'text_encoder',
      'text_model.encoder.layers.0.mlp.fc2',
      'down',
    ]);
  });

  it('tells LyCORIS parts apart from names it does not know', () => {
    expect(parseLoraKey('lora_unet_conv_in.hada_w1_a')).toEqual({
      unsupported: 'hada_w1_a',
      prefix: 'lora_unet',
    });
    expect(parseLoraKey('lora_unet_conv_in.lora_mid.weight')).toEqual({
      unsupported: 'lora_mid.weight',
      prefix: 'lora_unet',
    });
    expect(parseLoraKey('transformer.transformer_blocks.0.attn.to_q.weight')).toBeUndefined();
    expect(parseLoraKey('emb_params')).toBeUndefined();
  });

  it("renames Stability's SDXL and SD 1.x block names to diffusers' (flattened)", () => {
    const sdxl = (name: string) => sgmToDiffusersFlat(name, (block) => block < 2);
    expect(sdxl('input_blocks_0_0')).toBe('conv_in');
    expect(sdxl('out_2')).toBe('conv_out');
    expect(sdxl('time_embed_2')).toBe('time_embedding_linear_2');
    expect(sdxl('label_emb_0_0')).toBe('add_embedding_linear_1');
    expect(sdxl('input_blocks_1_0_in_layers_2')).toBe('down_blocks_0_resnets_0_conv1');
    expect(sdxl('input_blocks_2_0_emb_layers_1')).toBe('down_blocks_0_resnets_1_time_emb_proj');
    expect(sdxl('input_blocks_3_0_op')).toBe('down_blocks_0_downsamplers_0_conv');
    expect(sdxl('input_blocks_8_1_transformer_blocks_9_attn2_to_k')).toBe(
      'down_blocks_2_attentions_1_transformer_blocks_9_attn2_to_k',
    );
    expect(sdxl('middle_block_0_out_layers_3')).toBe('mid_block_resnets_0_conv2');
    expect(sdxl('middle_block_1_proj_out')).toBe('mid_block_attentions_0_proj_out');
    expect(sdxl('middle_block_2_skip_connection')).toBe('mid_block_resnets_1_conv_shortcut');
    expect(sdxl('output_blocks_0_1_transformer_blocks_0_ff_net_0_proj')).toBe(
      'up_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj',
    );
    expect(sdxl('output_blocks_2_2_conv')).toBe('up_blocks_0_upsamplers_0_conv');
    expect(sdxl('output_blocks_8_0_skip_connection')).toBe('up_blocks_2_resnets_2_conv_shortcut');
    // SD 1.x's first up block has no attention: its second part is the upsampler.
    expect(sgmToDiffusersFlat('output_blocks_2_1_conv', (block) => block > 0)).toBe(
      'up_blocks_0_upsamplers_0_conv',
    );
    expect(sdxl('down_blocks_0_resnets_0_conv1')).toBeUndefined();
  });
});
