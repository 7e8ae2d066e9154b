import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LoraRequest, mergeLoras } from '../../src/engine/lora/lora-merge.ts';
import { OnnxModelWeights } from '../../src/engine/lora/onnx-model-weights.ts';
import { createPatchedSession, patchedModel } from '../../src/engine/lora/patched-session.ts';
import { isUserError } from '../../src/errors/user-error.ts';
import { LORA_STRENGTH_LIMIT } from '../../src/request/limits.ts';
import {
  buildNamedModel,
  defaultWeights,
  f32,
  loraPair,
  type NamedModelSpec,
  reference,
  runNamed,
  writeLora,
  writeWithExternalData,
} from './named-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'easel-lora-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ATTN = 'down_blocks.0.attentions.0.transformer_blocks.0';
/** An SD 1.x-like UNet: a 3x3 resnet conv, a 1x1 proj_in conv, self-attention projections, a 768-wide to_k. */
const SD1: NamedModelSpec = {
  channels: 4,
  convs: [
    { module: 'down_blocks.0.resnets.0.conv1', kernel: 3 },
    { module: 'down_blocks.0.attentions.0.proj_in', kernel: 1 },
  ],
  linears: [`${ATTN}.attn1.to_q`, `${ATTN}.attn1.to_out.0`],
  cross: [{ module: `${ATTN}.attn2.to_k`, contextDim: 768 }],
};

let count = 0;
function writeModel(bytes: Uint8Array): string {
  const path = join(dir, `model-${count++}.onnx`);
  writeFileSync(path, bytes);
  return path;
}

async function load(spec: NamedModelSpec): Promise<OnnxModelWeights> {
  return OnnxModelWeights.load(writeModel(buildNamedModel(spec)));
}

async function mergedOutput(
  spec: NamedModelSpec,
  weights: OnnxModelWeights,
  loras: LoraRequest[],
  patchOptions = {},
) {
  const merged = await mergeLoras({ unet: weights }, loras);
  const session = await createPatchedSession(
    weights,
    merged.patches.get('unet') ?? new Map(),
    {},
    patchOptions,
  );
  try {
    return { output: await runNamed(session, spec), merged };
  } finally {
    await session.release();
  }
}

function lora(name: string, tensors: Parameters<typeof writeLora>[1], strength = 1): LoraRequest {
  return { name, path: writeLora(join(dir, `${name}.safetensors`), tensors), strength };
}

/** A kohya LoRA of SD1: a LoCon 3x3 conv, a Linear-shaped 1x1 conv, to_q with alpha, to_k (768 wide). */
function kohyaSd1(seed: number) {
  const conv = loraPair(seed, 2, 4, [4, 3, 3], true);
  const projIn = loraPair(seed + 10, 2, 4, [4]);
  // Rank 5: four ranks a pass and one left over.
  const toQ = loraPair(seed + 20, 5, 4, [4]);
  const toK = loraPair(seed + 30, 2, 4, [768]);
  const tensors = {
    'lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight': conv.down,
    'lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight': conv.up,
    'lora_unet_down_blocks_0_resnets_0_conv1.alpha': f32([], new Float32Array([1])),
    'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': projIn.down,
    'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': projIn.up,
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight': toQ.down,
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight': toQ.up,
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha': f32(
      [],
      new Float32Array([10]),
    ),
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': toK.down,
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': toK.up,
  };
  // Coefficients alpha / rank: 1/2 for conv1, 2 for to_q, 1 (no alpha) for the others.
  const expected = (strength: number): Record<string, Parameters<typeof reference>[1]> => ({
    'down_blocks.0.resnets.0.conv1': [{ ...conv, coefficient: strength / 2 }],
    'down_blocks.0.attentions.0.proj_in': [{ ...projIn, coefficient: strength }],
    [`${ATTN}.attn1.to_q`]: [{ ...toQ, coefficient: 2 * strength }],
    [`${ATTN}.attn2.to_k`]: [{ ...toK, coefficient: strength }],
  });
  return { tensors, expected };
}

/** The spec's model with every weight merged by the reference formula. */
function mergedSpec(
  spec: NamedModelSpec,
  deltas: Record<string, Parameters<typeof reference>[1]>,
): NamedModelSpec {
  const weights = defaultWeights(spec);
  for (const [module, pairs] of Object.entries(deltas)) weights[module] = reference(weights[module]!, pairs);
  return { ...spec, weights };
}

describe('merging a LoRA into an ONNX model', () => {
  it('a kohya SD 1.x LoRA (LoCon 3x3 conv, 1x1 conv, MatMul with alpha) gives exactly the model built with the merged weights', async () => {
    const weights = await load(SD1);
    const { tensors, expected } = kohyaSd1(1);
    const { output, merged } = await mergedOutput(SD1, weights, [lora('kohya-sd1', tensors, 0.5)]);
    const want = await runNamed(buildNamedModel(mergedSpec(SD1, expected(0.5))), SD1);
    expect(output).toEqual(want);
    expect(output).not.toEqual(await runNamed(buildNamedModel(SD1), SD1));
    expect(merged.reports).toEqual([{ name: 'kohya-sd1', matched: 4, total: 4, unmatched: {} }]);
    // conv1 4x4x3x3 + proj_in 4x4 + to_q 4x4 + to_k 768x4 float32 weights were rewritten.
    expect(merged.affectedBytes).toBe(4 * (144 + 16 + 16 + 768 * 4));
  });

  it('diffusers keys (old lora.down/up, attention processors, lora_A/lora_B without alpha) and PEFT keys merge alike', async () => {
    const weights = await load(SD1);
    const toQ = loraPair(40, 2, 4, [4]);
    const toOut = loraPair(50, 1, 4, [4]);
    const toK = loraPair(60, 2, 4, [768]);
    const conv = loraPair(70, 2, 4, [4, 3, 3], true);
    const diffusers = lora('diffusers', {
      [`unet.${ATTN}.attn1.to_q.lora.down.weight`]: toQ.down,
      [`unet.${ATTN}.attn1.to_q.lora.up.weight`]: toQ.up,
      [`unet.${ATTN}.attn1.processor.to_out_lora.down.weight`]: toOut.down,
      [`unet.${ATTN}.attn1.processor.to_out_lora.up.weight`]: toOut.up,
      [`unet.${ATTN}.attn2.to_k.lora_A.weight`]: toK.down,
      [`unet.${ATTN}.attn2.to_k.lora_B.weight`]: toK.up,
    });
    const peft = lora('peft', {
      'base_model.model.down_blocks.0.resnets.0.conv1.lora_A.default.weight': conv.down,
      'base_model.model.down_blocks.0.resnets.0.conv1.lora_B.default.weight': conv.up,
    });
    const { output, merged } = await mergedOutput(SD1, weights, [diffusers, peft]);
    const want = await runNamed(
      buildNamedModel(
        mergedSpec(SD1, {
          [`${ATTN}.attn1.to_q`]: [{ ...toQ, coefficient: 1 }],
          [`${ATTN}.attn1.to_out.0`]: [{ ...toOut, coefficient: 1 }],
          [`${ATTN}.attn2.to_k`]: [{ ...toK, coefficient: 1 }],
          'down_blocks.0.resnets.0.conv1': [{ ...conv, coefficient: 1 }],
        }),
      ),
      SD1,
    );
    expect(output).toEqual(want);
    expect(merged.reports.map((r) => [r.name, r.matched, r.total])).toEqual([
      ['diffusers', 3, 3],
      ['peft', 1, 1],
    ]);
  });

  it('strength 0 gives exactly the model without the LoRA', async () => {
    const weights = await load(SD1);
    const { output } = await mergedOutput(SD1, weights, [lora('zero', kohyaSd1(2).tensors, 0)]);
    expect(output).toEqual(await runNamed(buildNamedModel(SD1), SD1));
  });

  it('two LoRAs at their own strengths add', async () => {
    const weights = await load(SD1);
    const a = kohyaSd1(3);
    const b = kohyaSd1(4);
    const { output } = await mergedOutput(SD1, weights, [
      lora('a', a.tensors, 0.75),
      lora('b', b.tensors, -0.5),
    ]);
    const ea = a.expected(0.75);
    const eb = b.expected(-0.5);
    const both = Object.fromEntries(Object.keys(ea).map((m) => [m, [...ea[m]!, ...eb[m]!]]));
    expect(output).toEqual(await runNamed(buildNamedModel(mergedSpec(SD1, both)), SD1));
  });

  it('a float16 model is merged in float16', async () => {
    const spec: NamedModelSpec = { ...SD1, dtype: 'float16' };
    const weights = await load(spec);
    const { tensors, expected } = kohyaSd1(5);
    const { output } = await mergedOutput(spec, weights, [lora('fp16', tensors, 1)]);
    expect(output).toBeInstanceOf(Uint16Array);
    expect(output).toEqual(await runNamed(buildNamedModel(mergedSpec(spec, expected(1))), spec));
  });

  it('a model with its weights in an external data file is patched from memory, inline or with all data in memory', async () => {
    const folder = mkdtempSync(join(dir, 'external-'));
    const path = writeWithExternalData(buildNamedModel(SD1), folder, 'unet_weights.bin');
    const weights = await OnnxModelWeights.load(path);
    expect(weights.initializers.get('down_blocks.0.resnets.0.conv1.weight')?.external?.location).toBe(
      'unet_weights.bin',
    );
    const { tensors, expected } = kohyaSd1(6);
    const want = await runNamed(buildNamedModel(mergedSpec(SD1, expected(1))), SD1);
    const request = lora('external', tensors, 1);
    const inline = await mergedOutput(SD1, weights, [request]);
    expect(inline.output).toEqual(want);
    // Pieces of 100 bytes: every tensor in a piece of its own, as a >4 GiB file would be cut.
    const pieces = { inlineLimitBytes: 0, chunkBytes: 100 };
    const inMemory = await mergedOutput(SD1, weights, [request], pieces);
    expect(inMemory.output).toEqual(want);
    const handed = await patchedModel(weights, inMemory.merged.patches.get('unet')!, pieces);
    expect(handed.mode).toBe('in-memory');
    // 4 patched weights and 1 untouched (to_out.0), each too big to share a 100-byte piece.
    expect(handed.options.externalData?.length).toBe(5);
    const inlined = await patchedModel(weights, inMemory.merged.patches.get('unet')!);
    expect(inlined.mode).toBe('inline');
    expect(inlined.options.extra).toEqual({
      session: { model_external_initializers_file_folder_path: folder },
    });
  });

  it('an SDXL kohya LoRA in Stability block names reaches the diffusers modules', async () => {
    const spec: NamedModelSpec = {
      channels: 4,
      convs: [
        { module: 'down_blocks.0.downsamplers.0.conv', kernel: 3 },
        { module: 'down_blocks.1.resnets.0.conv_shortcut', kernel: 1 },
        { module: 'up_blocks.0.resnets.2.conv1', kernel: 3 },
        { module: 'up_blocks.1.upsamplers.0.conv', kernel: 3 },
      ],
      linears: [
        'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q',
        'mid_block.attentions.0.transformer_blocks.0.ff.net.2',
        'up_blocks.0.attentions.1.transformer_blocks.0.attn1.to_v',
      ],
      cross: [{ module: 'up_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k', contextDim: 2048 }],
    };
    const weights = await load(spec);
    const names: Record<string, string> = {
      input_blocks_3_0_op: 'down_blocks.0.downsamplers.0.conv',
      input_blocks_4_0_skip_connection: 'down_blocks.1.resnets.0.conv_shortcut',
      output_blocks_2_0_in_layers_2: 'up_blocks.0.resnets.2.conv1',
      output_blocks_5_2_conv: 'up_blocks.1.upsamplers.0.conv',
      input_blocks_4_1_transformer_blocks_0_attn1_to_q:
        'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q',
      middle_block_1_transformer_blocks_0_ff_net_2: 'mid_block.attentions.0.transformer_blocks.0.ff.net.2',
      output_blocks_1_1_transformer_blocks_0_attn1_to_v:
        'up_blocks.0.attentions.1.transformer_blocks.0.attn1.to_v',
      output_blocks_1_1_transformer_blocks_0_attn2_to_k:
        'up_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k',
    };
    const tensors: Parameters<typeof writeLora>[1] = {};
    const deltas: Record<string, Parameters<typeof reference>[1]> = {};
    let seed = 80;
    for (const [kohya, module] of Object.entries(names)) {
      const conv = spec.convs!.find((c) => c.module === module);
      const inDims = conv ? [4, conv.kernel, conv.kernel] : module.endsWith('to_k') ? [2048] : [4];
      seed += 7;
      const pair = loraPair(seed, 2, 4, inDims, conv !== undefined);
      tensors[`lora_unet_${kohya}.lora_down.weight`] = pair.down;
      tensors[`lora_unet_${kohya}.lora_up.weight`] = pair.up;
      deltas[module] = [{ ...pair, coefficient: 1 }];
    }
    const { output, merged } = await mergedOutput(spec, weights, [lora('sdxl', tensors)]);
    expect(merged.reports[0]).toMatchObject({ matched: 8, total: 8 });
    expect(output).toEqual(await runNamed(buildNamedModel(mergedSpec(spec, deltas)), spec));
  });
});

describe('what a LoRA patches and what it is refused for', () => {
  async function refusal(models: Parameters<typeof mergeLoras>[0], requests: LoraRequest[]): Promise<string> {
    const error = await mergeLoras(models, requests).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUserError(error)).toBe(true);
    return (error as Error).message;
  }

  it('a partial match is merged and reported with counts and the prefixes that matched nothing', async () => {
    const weights = await load(SD1);
    const { tensors } = kohyaSd1(9);
    const te = loraPair(99, 2, 4, [4]);
    const request = lora('partial', {
      ...tensors,
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': te.down,
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': te.up,
      'lora_unet_up_blocks_3_attentions_2_proj_out.lora_down.weight': te.down,
      'lora_unet_up_blocks_3_attentions_2_proj_out.lora_up.weight': te.up,
    });
    const merged = await mergeLoras({ unet: weights }, [request]);
    expect(merged.reports).toEqual([
      { name: 'partial', matched: 4, total: 6, unmatched: { lora_te: 1, lora_unet: 1 } },
    ]);
  });

  it('a LoRA whose keys match nothing is refused with its prefixes', async () => {
    const weights = await load(SD1);
    const pair = loraPair(1, 2, 4, [4]);
    const message = await refusal({ unet: weights }, [
      lora('nothing', {
        'lora_unet_no_such_layer.lora_down.weight': pair.down,
        'lora_unet_no_such_layer.lora_up.weight': pair.up,
        'other.weight': pair.up,
      }),
    ]);
    expect(message).toBe(
      'LoRA "nothing" matches no layer of this model (its keys: other (1), lora_unet (1)).',
    );
  });

  it('an SDXL LoRA on an SD 1.x model is refused as another family, whether its layers exist or not', async () => {
    const weights = await load(SD1);
    const wide = loraPair(2, 2, 4, [2048]);
    const te2 = loraPair(3, 2, 4, [1280]);
    const misfit = await refusal({ unet: weights }, [
      lora('sdxl-misfit', {
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': wide.down,
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': wide.up,
      }),
    ]);
    expect(misfit).toBe(
      'LoRA "sdxl-misfit" does not fit this model: 1 of its layers have other sizes (down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k: LoRA 2048→4, model 768→4); it looks like an SDXL LoRA',
    );
    const absent = await refusal({ unet: weights }, [
      lora('sdxl-absent', {
        'lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': te2.down,
        'lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': te2.up,
        'lora_unet_input_blocks_7_1_transformer_blocks_9_attn1_to_q.lora_down.weight': te2.down,
        'lora_unet_input_blocks_7_1_transformer_blocks_9_attn1_to_q.lora_up.weight': te2.up,
      }),
    ]);
    expect(absent).toBe(
      'LoRA "sdxl-absent" matches no layer of this model (its keys: lora_te2 (1), lora_unet (1)); it looks like an SDXL LoRA.',
    );
  });

  it('an SD 1.x LoRA on an SD 2.x model is refused by its cross-attention width', async () => {
    const sd2: NamedModelSpec = { ...SD1, cross: [{ module: `${ATTN}.attn2.to_k`, contextDim: 1024 }] };
    const weights = await load(sd2);
    const message = await refusal({ unet: weights }, [lora('sd1-on-sd2', kohyaSd1(13).tensors)]);
    expect(message).toBe(
      `LoRA "sd1-on-sd2" does not fit this model: 1 of its layers have other sizes (${ATTN}.attn2.to_k: LoRA 768→4, model 1024→4); it looks like an SD 1.x LoRA`,
    );
  });

  it('a LyCORIS LoHa is refused by what it is', async () => {
    const weights = await load(SD1);
    const message = await refusal({ unet: weights }, [
      lora('loha', { 'lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_a': f32([2, 2], new Float32Array(4)) }),
    ]);
    expect(message).toContain('It uses hada_w1_a (LyCORIS), which easel does not merge.');
  });

  it('a strength out of range is refused before any file is opened', async () => {
    const weights = await load(SD1);
    for (const strength of [LORA_STRENGTH_LIMIT + 0.5, -10, Number.NaN]) {
      const message = await refusal({ unet: weights }, [
        { name: 'x', path: join(dir, 'absent.safetensors'), strength },
      ]);
      expect(message).toBe(`LoRA strength for "x" must be between -4 and 4 (got ${strength})`);
    }
  });

  it('a text-encoder LoRA patches the text encoder through its scoped MatMul names', async () => {
    const spec: NamedModelSpec = {
      channels: 4,
      linears: ['text_model.encoder.layers.0.self_attn.q_proj', 'text_model.encoder.layers.0.mlp.fc1'],
    };
    const te = await load(spec);
    expect(te.modules.get('text_model.encoder.layers.0.self_attn.q_proj')?.layout).toBe('in-out');
    const q = loraPair(11, 2, 4, [4]);
    const request = lora('te', {
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': q.down,
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': q.up,
    });
    const merged = await mergeLoras({ text_encoder: te }, [request]);
    const session = await createPatchedSession(te, merged.patches.get('text_encoder')!);
    const want = await runNamed(
      buildNamedModel(
        mergedSpec(spec, { 'text_model.encoder.layers.0.self_attn.q_proj': [{ ...q, coefficient: 1 }] }),
      ),
      spec,
    );
    expect(await runNamed(session, spec)).toEqual(want);
    await session.release();
  });

  it('a Linear exported as a Gemm with its named [out, in] weight is patched untransposed', async () => {
    const spec: NamedModelSpec = {
      channels: 4,
      gemms: ['time_embedding.linear_1'],
      linears: ['text_model.final_proj'],
    };
    const weights = await load(spec);
    expect(weights.modules.get('time_embedding.linear_1')).toEqual({
      module: 'time_embedding.linear_1',
      initializer: 'time_embedding.linear_1.weight',
      layout: 'out-in',
    });
    const pair = loraPair(12, 3, 4, [4]);
    const request = lora('gemm', {
      'lora_unet_time_embedding_linear_1.lora_down.weight': pair.down,
      'lora_unet_time_embedding_linear_1.lora_up.weight': pair.up,
    });
    const { output } = await mergedOutput(spec, weights, [request]);
    const want = mergedSpec(spec, { 'time_embedding.linear_1': [{ ...pair, coefficient: 1 }] });
    expect(output).toEqual(await runNamed(buildNamedModel(want), spec));
  });

  it('refuses a file that is not ONNX, and external data outside the model folder', async () => {
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'not a model at all');
    await expect(OnnxModelWeights.load(junk)).rejects.toThrow(`${junk} is not an ONNX model`);
    const folder = mkdtempSync(join(dir, 'escape-'));
    const path = writeWithExternalData(buildNamedModel(SD1), folder, '../elsewhere.bin');
    await expect(OnnxModelWeights.load(path)).rejects.toThrow(
      `${path}: initializer down_blocks.0.resnets.0.conv1.weight has external data outside the model's folder`,
    );
  });
});
