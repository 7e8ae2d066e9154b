import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelEntry } from '../../models/registry.ts';
import { OnnxGraphBuilder, type TinyElemType } from './onnx-graph-builder.ts';
import {
  benchDecoderBlock,
  buildSafetyChecker,
  type IoDtype,
  TINY_NAMES,
  type TimestepVariant,
  tinyTextLayerNode,
  weights,
} from './tiny-models.ts';
import { tinyTokenizerConfig, tinyTokenizerJson, tinyVocabSize } from './tiny-tokenizer.ts';

/**
 * Tiny model folders of the SD 2, SDXL (base, refiner, turbo, inpainting) and SD 3 families with
 * the tensor names, ranks and dtypes of their Optimum exports: several text encoders with
 * `hidden_states.N` outputs and pooled `text_embeds`, UNets taking `text_embeds` and `time_ids`,
 * SD3's `transformer/` with `pooled_projections`, 16-channel VAEs with a shift factor, encoders that
 * give `latent_parameters`, external weight files. Every layer of a text encoder differs from the
 * next and every conditioning input reaches the denoiser's output, so a test can tell a wrong
 * hidden layer, a missing concatenation or wrong time ids from the numbers.
 */
export type TinyFamily =
  | 'sd2'
  | 'sd2-v'
  | 'sdxl'
  | 'sdxl-turbo'
  | 'sdxl-inpaint'
  | 'sdxl-refiner'
  | 'sd3'
  | 'sd3-no-t5';

export const TINY_FAMILIES: readonly TinyFamily[] = [
  'sd2',
  'sd2-v',
  'sdxl',
  'sdxl-turbo',
  'sdxl-inpaint',
  'sdxl-refiner',
  'sd3',
  'sd3-no-t5',
];

export interface TinyFamilyOptions {
  /** fp16 I/O on the denoiser, the text encoders' outputs and the VAE. */
  dtype?: IoDtype;
  /** A denoiser exported for one latent size only. */
  fixedLatentSize?: number;
  safetyChecker?: boolean;
  /** The denoiser's feature channels (8): the benchmark makes it heavier so it dominates, as a real one does. */
  denoiserWidth?: number;
  /** The channels of the benchmark's full-resolution VAE decoder block (benchDecoderBlock); none by default. */
  vaeDecoderWidth?: number;
}

/** Widths of the tiny encoders, standing for CLIP-L (768), OpenCLIP-G (1280), OpenCLIP-H (1024), T5-XXL (4096). */
export const TINY_WIDTHS = { clipL: 8, clipG: 12, clipH: 16, t5: 24 } as const;
/** Text encoder layers: hidden_states.0 (embeddings) … hidden_states.3; the penultimate is .2. */
const LAYERS = 3;

function layer(seed: number, rows: number, cols: number): Float32Array {
  return weights(seed, rows * cols, Math.sqrt(3 / rows));
}

function castIn(g: OnnxGraphBuilder, name: string, dtype: TinyElemType): string {
  return dtype === 'float32' ? name : g.node('Cast', [name], { to: 1 });
}

function outputAs(
  g: OnnxGraphBuilder,
  name: string,
  value: string,
  dtype: IoDtype,
  dims: (number | string)[],
) {
  g.nodeTo(name, dtype === 'float16' ? 'Cast' : 'Identity', [value], dtype === 'float16' ? { to: 10 } : {});
  g.output(name, dtype, dims);
}

export interface TinyTextEncoderSpec {
  hidden: number;
  seed: number;
  idsType: 'int32' | 'int64';
  dtype: IoDtype;
  /** CLIPTextModel gives `pooler_output`; CLIPTextModelWithProjection `text_embeds`; T5 neither. */
  pooled: 'pooler_output' | 'text_embeds' | 'none';
  /** CLIP's fixed 77 tokens with learned positions; T5 any length. */
  tokens: number | 'sequence_length';
  hiddenStates: boolean;
}

/**
 * `input_ids` -> `last_hidden_state` [B,T,W] (the last layer through a final norm stand-in),
 * `hidden_states.0` … `hidden_states.L` (each layer adds tanh of a mix of the one before), and the
 * pooled output (mean over tokens of the last hidden state, projected for `text_embeds`).
 */
export function buildTinyTextEncoder(spec: TinyTextEncoderSpec): Uint8Array {
  const { hidden: w, seed, dtype } = spec;
  const vocab = tinyVocabSize();
  const g = new OnnxGraphBuilder('text_encoder');
  const ids = g.input('input_ids', spec.idsType, ['batch_size', spec.tokens]);
  let h = g.node('Gather', [
    g.weight(weights(seed, vocab * w, 1), [vocab, w], 'float32', TINY_NAMES.tokenEmbedding),
    ids,
  ]);
  if (typeof spec.tokens === 'number')
    h = g.node('Add', [h, g.weight(weights(seed + 1, spec.tokens * w, 0.1), [spec.tokens, w])]);
  const states = [h];
  for (let k = 0; k < LAYERS; k++) {
    const mixed = g.node('Tanh', [
      g.node('Add', [
        g.node('MatMul', [h, g.weight(layer(seed + 10 + k, w, w), [w, w])], {}, 1, tinyTextLayerNode(k)),
        g.weight(weights(seed + 20 + k, w, 0.2), [w]),
      ]),
    ]);
    h = g.node('Add', [h, mixed]);
    states.push(h);
  }
  const last = g.node('Add', [g.node('Mul', [h, g.weight([0.5], [1])]), g.weight([0.1], [1])]);
  const tokenDims = ['batch_size', spec.tokens, w];
  outputAs(g, 'last_hidden_state', last, dtype, tokenDims);
  if (spec.pooled !== 'none') {
    const mean = g.node('ReduceMean', [last], { axes: [1], keepdims: 0 });
    const pooled =
      spec.pooled === 'text_embeds'
        ? g.node('MatMul', [mean, g.weight(layer(seed + 30, w, w), [w, w])])
        : mean;
    outputAs(g, spec.pooled, pooled, dtype, ['batch_size', w]);
  }
  if (spec.hiddenStates) {
    for (const [k, state] of states.entries()) outputAs(g, `hidden_states.${k}`, state, dtype, tokenDims);
  }
  return g.toBytes();
}

export interface TinyDenoiserSpec {
  sampleName: 'sample' | 'hidden_states';
  outputName: 'out_sample' | 'out_hidden_states';
  inChannels: number;
  outChannels: number;
  contextDim: number;
  contextTokens: number | string;
  /** Vector inputs [B, width] (text_embeds, time_ids, pooled_projections), each scaled, mixed in. */
  vectors: { name: string; width: number; scale: number }[];
  timestep: TimestepVariant;
  dtype: IoDtype;
  fixedSize?: number;
  seed: number;
  width?: number;
}

/**
 * The family's denoiser contract: the latents, the timestep and every conditioning input reach
 * `out_*` (a bias per channel from each), over one stride-2 level so odd sides fail as on a real one.
 */
export function buildTinyDenoiser(spec: TinyDenoiserSpec): OnnxGraphBuilder {
  const { inChannels, outChannels, contextDim, dtype, seed } = spec;
  const c = spec.width ?? 8;
  const g = new OnnxGraphBuilder(spec.sampleName === 'sample' ? 'unet' : 'transformer');
  const side = (name: string) => spec.fixedSize ?? name;
  const sample = castIn(
    g,
    g.input(spec.sampleName, dtype, ['batch', inChannels, side('height'), side('width')]),
    dtype,
  );
  const tType: TinyElemType = spec.timestep === 'float32-scalar' ? 'float32' : spec.timestep;
  const t = g.input('timestep', tType, spec.timestep === 'float32-scalar' ? [] : ['batch']);
  const context = castIn(
    g,
    g.input('encoder_hidden_states', dtype, ['batch', spec.contextTokens, contextDim]),
    dtype,
  );
  const tFloat = tType === 'float32' ? t : g.node('Cast', [t], { to: 1 });
  const tEmbedding = g.node('Sin', [
    g.node('Mul', [g.node('Reshape', [tFloat, g.int64s([-1, 1, 1, 1])]), g.weight([0.01], [1])]),
  ]);
  // Only a UNet's layers carry the names LoRAs know (SD3's transformer is not patched).
  const unet = spec.sampleName === 'sample';
  const named = (name: string) => (unet ? name : undefined);
  let bias = g.node(
    'MatMul',
    [
      g.node('ReduceMean', [context], { axes: [1], keepdims: 0 }),
      g.weight(layer(seed, contextDim, c), [contextDim, c]),
    ],
    {},
    1,
    named(TINY_NAMES.crossAttentionNode),
  );
  for (const [i, v] of spec.vectors.entries()) {
    const input = castIn(g, g.input(v.name, dtype, ['batch', v.width]), dtype);
    const scaled = g.node('Mul', [input, g.weight([v.scale], [1])]);
    bias = g.node('Add', [
      bias,
      g.node('MatMul', [scaled, g.weight(layer(seed + 1 + i, v.width, c), [v.width, c])]),
    ]);
  }
  const biasMap = g.node('Reshape', [bias, g.int64s([-1, c, 1, 1])]);
  const conv1 = g.node(
    'Conv',
    [
      sample,
      g.weight(
        layer(seed + 10, inChannels * 9, c),
        [c, inChannels, 3, 3],
        'float32',
        named(TINY_NAMES.convIn),
      ),
    ],
    {
      pads: [1, 1, 1, 1],
    },
  );
  const h = g.node('Tanh', [g.node('Add', [g.node('Add', [conv1, biasMap]), tEmbedding])]);
  const down = g.node('Tanh', [
    g.node(
      'Conv',
      [h, g.weight(layer(seed + 11, c * 9, c), [c, c, 3, 3], 'float32', named(TINY_NAMES.downConv))],
      {
        pads: [1, 1, 1, 1],
        strides: [2, 2],
      },
    ),
  ]);
  const up = g.node('Resize', [down, '', g.weight([1, 1, 2, 2], [4])], { mode: 'nearest' });
  const detail = g.node(
    'Conv',
    [
      g.node('Add', [h, up]),
      g.weight(
        layer(seed + 12, c * 9, outChannels),
        [outChannels, c, 3, 3],
        'float32',
        named(TINY_NAMES.convOut),
      ),
    ],
    { pads: [1, 1, 1, 1] },
  );
  const skip = g.node('Slice', [sample, g.int64s([0]), g.int64s([outChannels]), g.int64s([1])]);
  const out = g.node('Add', [skip, g.node('Mul', [detail, g.weight([0.3], [1])])]);
  outputAs(g, spec.outputName, out, dtype, ['batch', outChannels, side('height'), side('width')]);
  return g;
}

/**
 * A linear VAE, 8x smaller: the encoder's mean keeps R, G, B and their average in its first four
 * channels (divided by `scaling`, so the pipeline's scaled latents are of unit size) and mixes of
 * them in the rest; the decoder reads the first three back. decode(encode(x)) is x for flat 8x8
 * blocks, whatever the scaling and shift.
 */
function vaeMatrices(channels: number, scaling: number, shift: number) {
  const encode = new Float32Array(channels * 3);
  const rows = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1 / 3, 1 / 3, 1 / 3],
  ];
  const mixes = weights(77, channels * 3, 0.5);
  for (let ch = 0; ch < channels; ch++) {
    for (let k = 0; k < 3; k++) encode[ch * 3 + k] = (rows[ch]?.[k] ?? mixes[ch * 3 + k]!) / scaling;
  }
  const decode = new Float32Array(3 * channels);
  for (let k = 0; k < 3; k++) decode[k * channels + k] = scaling;
  // The encoder's bias is the shift, so (z - shift) * scaling has no offset; the decoder removes it.
  const encodeBias = new Float32Array(channels).fill(shift);
  const decodeBias = new Float32Array(3).map(() => -shift * scaling);
  return { encode, decode, encodeBias, decodeBias };
}

export function buildTinyVaeDecoder(
  channels: number,
  scaling: number,
  shift: number,
  dtype: IoDtype,
  benchWidth?: number,
): Uint8Array {
  const { decode, decodeBias } = vaeMatrices(channels, scaling, shift);
  const g = new OnnxGraphBuilder('vae_decoder');
  const latent = castIn(
    g,
    g.input('latent_sample', dtype, ['batch', channels, 'latent_height', 'latent_width']),
    dtype,
  );
  const mixed = g.node('Conv', [latent, g.weight(decode, [3, channels, 1, 1]), g.weight(decodeBias, [3])]);
  const image = g.node('Resize', [mixed, '', g.weight([1, 1, 8, 8], [4])], { mode: 'nearest' });
  const clipped = g.node('Clip', [
    benchDecoderBlock(g, image, benchWidth),
    g.weight([-1], []),
    g.weight([1], []),
  ]);
  outputAs(g, 'sample', clipped, dtype, ['batch', 3, 'height', 'width']);
  return g.toBytes();
}

/** `sample` -> `latent_parameters` [B,2C,h,w] (mean, then a log-variance of -4) or `latent_sample`. */
export function buildTinyVaeEncoder(
  channels: number,
  scaling: number,
  shift: number,
  dtype: IoDtype,
  output: 'latent_parameters' | 'latent_sample',
): Uint8Array {
  const { encode, encodeBias } = vaeMatrices(channels, scaling, shift);
  const g = new OnnxGraphBuilder('vae_encoder');
  const image = castIn(g, g.input('sample', dtype, ['batch', 3, 'height', 'width']), dtype);
  const pooled = g.node('AveragePool', [image], { kernel_shape: [8, 8], strides: [8, 8] });
  let latent = g.node('Conv', [
    pooled,
    g.weight(encode, [channels, 3, 1, 1]),
    g.weight(encodeBias, [channels]),
  ]);
  let out = channels;
  if (output === 'latent_parameters') {
    const logvar = g.node('Add', [g.node('Mul', [latent, g.weight([0], [1])]), g.weight([-4], [1])]);
    latent = g.node('Concat', [latent, logvar], { axis: 1 });
    out = 2 * channels;
  }
  outputAs(g, output, latent, dtype, ['batch', out, 'latent_height', 'latent_width']);
  return g.toBytes();
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

async function writePart(dir: string, part: string, onnx: Uint8Array, config?: unknown): Promise<void> {
  await mkdir(join(dir, part), { recursive: true });
  await writeFile(join(dir, part, 'model.onnx'), onnx);
  if (config !== undefined) await writeJson(join(dir, part, 'config.json'), config);
}

/** A part whose weights live in a separate file, as large exports save them. */
async function writeExternalPart(
  dir: string,
  part: string,
  graph: OnnxGraphBuilder,
  location: string,
  config: unknown,
): Promise<void> {
  const { onnx, data } = graph.toExternalFiles(location);
  await writePart(dir, part, onnx, config);
  await writeFile(join(dir, part, location), data);
}

async function writeTokenizer(dir: string, part: string, maxLength: number, pad?: string): Promise<void> {
  await mkdir(join(dir, part), { recursive: true });
  await writeJson(join(dir, part, 'tokenizer.json'), tinyTokenizerJson());
  const config = { ...tinyTokenizerConfig(), model_max_length: maxLength } as Record<string, unknown>;
  if (pad !== undefined) config.pad_token = pad;
  await writeJson(join(dir, part, 'tokenizer_config.json'), config);
}

const EULER_SDXL = {
  _class_name: 'EulerDiscreteScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  timestep_spacing: 'leading',
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  prediction_type: 'epsilon',
  sample_max_value: 1,
  clip_sample: false,
  set_alpha_to_one: false,
};

function schedulerConfig(family: TinyFamily): Record<string, unknown> {
  switch (family) {
    case 'sd2':
      return {
        _class_name: 'PNDMScheduler',
        num_train_timesteps: 1000,
        beta_start: 0.00085,
        beta_end: 0.012,
        beta_schedule: 'scaled_linear',
        set_alpha_to_one: false,
        skip_prk_steps: true,
        steps_offset: 1,
        prediction_type: 'epsilon',
        timestep_spacing: 'leading',
      };
    case 'sd2-v':
      return {
        _class_name: 'DDIMScheduler',
        num_train_timesteps: 1000,
        beta_start: 0.00085,
        beta_end: 0.012,
        beta_schedule: 'scaled_linear',
        clip_sample: false,
        set_alpha_to_one: false,
        steps_offset: 1,
        prediction_type: 'v_prediction',
        timestep_spacing: 'leading',
      };
    case 'sdxl-turbo':
      return { ...EULER_SDXL, _class_name: 'EulerAncestralDiscreteScheduler', timestep_spacing: 'trailing' };
    case 'sd3':
    case 'sd3-no-t5':
      return { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 };
    default:
      return EULER_SDXL;
  }
}

const VAE = {
  sd2: { channels: 4, scaling: 0.18215, shift: 0 },
  sdxl: { channels: 4, scaling: 0.13025, shift: 0 },
  sd3: { channels: 16, scaling: 1.5305, shift: 0.0609 },
};

/** Writes a tiny model folder of the family in the Optimum ONNX layout. */
export async function writeTinyFamilyModel(
  dir: string,
  family: TinyFamily,
  options: TinyFamilyOptions = {},
): Promise<void> {
  const dtype = options.dtype ?? 'float32';
  const fixed = {
    ...(options.fixedLatentSize !== undefined ? { fixedSize: options.fixedLatentSize } : {}),
    ...(options.denoiserWidth !== undefined ? { width: options.denoiserWidth } : {}),
  };
  const xl = family.startsWith('sdxl');
  const sd3 = family.startsWith('sd3');
  const vae = sd3 ? VAE.sd3 : xl ? VAE.sdxl : VAE.sd2;
  const latentChannels = vae.channels;
  const inChannels = family === 'sdxl-inpaint' ? 2 * latentChannels + 1 : latentChannels;
  const W = TINY_WIDTHS;
  await mkdir(dir, { recursive: true });
  const index: Record<string, unknown> = { _diffusers_version: '0.30.0' };
  const clip = (
    hidden: number,
    seed: number,
    pooled: TinyTextEncoderSpec['pooled'],
    idsType: 'int32' | 'int64',
  ) => buildTinyTextEncoder({ hidden, seed, pooled, idsType, dtype, tokens: 77, hiddenStates: true });
  const encoderConfig = (hidden: number, projection?: number) => ({
    hidden_size: hidden,
    num_hidden_layers: LAYERS,
    ...(projection !== undefined ? { projection_dim: projection } : {}),
  });

  if (family === 'sd2' || family === 'sd2-v') {
    Object.assign(index, {
      _class_name: 'StableDiffusionPipeline',
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
      requires_safety_checker: false,
    });
    await writeTokenizer(dir, 'tokenizer', 77);
    await writePart(
      dir,
      'text_encoder',
      buildTinyTextEncoder({
        hidden: W.clipH,
        seed: 301,
        pooled: 'pooler_output',
        idsType: 'int64',
        dtype,
        tokens: 77,
        hiddenStates: false,
      }),
      encoderConfig(W.clipH),
    );
    const unet = buildTinyDenoiser({
      sampleName: 'sample',
      outputName: 'out_sample',
      inChannels,
      outChannels: latentChannels,
      contextDim: W.clipH,
      contextTokens: 77,
      vectors: [],
      timestep: family === 'sd2-v' ? 'float32' : 'int64',
      dtype,
      seed: 310,
      ...fixed,
    });
    await writeExternalPart(dir, 'unet', unet, 'model.onnx.data', {
      in_channels: inChannels,
      out_channels: latentChannels,
      cross_attention_dim: W.clipH,
      use_linear_projection: true,
    });
  } else if (xl) {
    const refiner = family === 'sdxl-refiner';
    Object.assign(index, {
      _class_name: refiner ? 'StableDiffusionXLImg2ImgPipeline' : 'StableDiffusionXLPipeline',
      force_zeros_for_empty_prompt: !refiner,
      requires_aesthetics_score: refiner,
      add_watermarker: null,
      text_encoder: refiner ? [null, null] : ['transformers', 'CLIPTextModel'],
      tokenizer: refiner ? [null, null] : ['transformers', 'CLIPTokenizer'],
      text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
      tokenizer_2: ['transformers', 'CLIPTokenizer'],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    });
    if (!refiner) {
      await writeTokenizer(dir, 'tokenizer', 77);
      await writePart(
        dir,
        'text_encoder',
        clip(W.clipL, 401, 'pooler_output', 'int32'),
        encoderConfig(W.clipL),
      );
    }
    await writeTokenizer(dir, 'tokenizer_2', 77, '[UNK]');
    await writePart(
      dir,
      'text_encoder_2',
      clip(W.clipG, 402, 'text_embeds', 'int64'),
      encoderConfig(W.clipG, W.clipG),
    );
    const context = refiner ? W.clipG : W.clipL + W.clipG;
    const unet = buildTinyDenoiser({
      sampleName: 'sample',
      outputName: 'out_sample',
      inChannels,
      outChannels: latentChannels,
      contextDim: context,
      contextTokens: 77,
      vectors: [
        { name: 'text_embeds', width: W.clipG, scale: 1 },
        { name: 'time_ids', width: refiner ? 5 : 6, scale: 1 / 64 },
      ],
      timestep: family === 'sdxl-turbo' ? 'float32' : 'int64',
      dtype,
      seed: refiner ? 420 : 410,
      ...fixed,
    });
    await writeExternalPart(dir, 'unet', unet, 'weights.pb', {
      in_channels: inChannels,
      out_channels: latentChannels,
      cross_attention_dim: context,
      addition_embed_type: 'text_time',
      use_linear_projection: true,
    });
  } else {
    const withT5 = family === 'sd3';
    Object.assign(index, {
      _class_name: 'StableDiffusion3Pipeline',
      text_encoder: ['transformers', 'CLIPTextModelWithProjection'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
      tokenizer_2: ['transformers', 'CLIPTokenizer'],
      text_encoder_3: withT5 ? ['transformers', 'T5EncoderModel'] : [null, null],
      tokenizer_3: withT5 ? ['transformers', 'T5TokenizerFast'] : [null, null],
      transformer: ['diffusers', 'SD3Transformer2DModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    });
    await writeTokenizer(dir, 'tokenizer', 77);
    await writePart(
      dir,
      'text_encoder',
      clip(W.clipL, 501, 'text_embeds', 'int64'),
      encoderConfig(W.clipL, W.clipL),
    );
    await writeTokenizer(dir, 'tokenizer_2', 77, '[UNK]');
    await writePart(
      dir,
      'text_encoder_2',
      clip(W.clipG, 502, 'text_embeds', 'int64'),
      encoderConfig(W.clipG, W.clipG),
    );
    if (withT5) {
      await writeTokenizer(dir, 'tokenizer_3', 512);
      await writePart(
        dir,
        'text_encoder_3',
        buildTinyTextEncoder({
          hidden: W.t5,
          seed: 503,
          pooled: 'none',
          idsType: 'int64',
          dtype,
          tokens: 'sequence_length',
          hiddenStates: false,
        }),
        { d_model: W.t5 },
      );
    }
    const transformer = buildTinyDenoiser({
      sampleName: 'hidden_states',
      outputName: 'out_hidden_states',
      inChannels,
      outChannels: latentChannels,
      contextDim: W.t5,
      contextTokens: 'sequence_length',
      vectors: [{ name: 'pooled_projections', width: W.clipL + W.clipG, scale: 1 }],
      timestep: 'float32',
      dtype,
      seed: 510,
      ...fixed,
    });
    await writeExternalPart(dir, 'transformer', transformer, 'model.onnx_data', {
      in_channels: inChannels,
      out_channels: latentChannels,
      joint_attention_dim: W.t5,
      pooled_projection_dim: W.clipL + W.clipG,
      patch_size: 2,
    });
  }
  await writeJson(join(dir, 'model_index.json'), index);
  await mkdir(join(dir, 'scheduler'), { recursive: true });
  await writeJson(join(dir, 'scheduler', 'scheduler_config.json'), schedulerConfig(family));
  const vaeConfig = {
    latent_channels: latentChannels,
    scaling_factor: vae.scaling,
    ...(vae.shift !== 0 ? { shift_factor: vae.shift } : {}),
    block_out_channels: [8, 8, 8, 8],
    in_channels: 3,
    out_channels: 3,
  };
  await writePart(
    dir,
    'vae_decoder',
    buildTinyVaeDecoder(latentChannels, vae.scaling, vae.shift, dtype, options.vaeDecoderWidth),
    vaeConfig,
  );
  // Newer Optimum exports (SDXL, SD3) give the distribution's parameters; SD 2's older ones the sample.
  await writePart(
    dir,
    'vae_encoder',
    buildTinyVaeEncoder(
      latentChannels,
      vae.scaling,
      vae.shift,
      dtype,
      xl || sd3 ? 'latent_parameters' : 'latent_sample',
    ),
    vaeConfig,
  );
  if (options.safetyChecker === true) await writePart(dir, 'safety_checker', buildSafetyChecker());
}

/**
 * The registry entry `easel models tiny --family` writes for a tiny folder: rendered at 64 px and
 * shown at 512, like easel-tiny, with the family's sampler (SD 3 samples by flow matching, turbo
 * models in one step without guidance).
 */
export function tinyFamilyEntry(family: TinyFamily): ModelEntry {
  const turbo = family === 'sdxl-turbo';
  return {
    id: `easel-tiny-${family}`,
    aliases: [`tiny-${family}`],
    description: `Smoke-test model written by \`easel models tiny --family ${family}\`: the ${family} layout, draws noise`,
    kind: family === 'sdxl-inpaint' ? 'inpaint' : 'txt2img',
    folder: `easel-tiny-${family}`,
    nativeResolution: 512,
    renderScale: 8,
    latentMultiple: 2,
    defaults: {
      steps: turbo ? 1 : 4,
      guidance: turbo ? 0 : 5,
      scheduler: family.startsWith('sd3') ? 'flow_euler' : turbo ? 'euler_a' : 'euler',
    },
    limits: { minSteps: 1, maxSteps: 50 },
    nsfwScreening: 'required',
    family: family.startsWith('sd3')
      ? 'sd3'
      : family === 'sdxl-refiner'
        ? 'sdxl-refiner'
        : family.startsWith('sdxl')
          ? 'sdxl'
          : 'sd2',
    install: `easel models tiny --family ${family}`,
  };
}
