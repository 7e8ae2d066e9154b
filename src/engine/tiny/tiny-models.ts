import { OnnxGraphBuilder, type TinyElemType } from './onnx-graph-builder.ts';

/**
 * Tiny ONNX models with the real tensor names, shapes and dtype variants of Stable Diffusion's
 * parts (as Optimum exports them), built from a few convolutions, matmuls and resizes. Too small to
 * draw anything, big enough to exercise every path of the pipeline: text reaches the UNet, the
 * timestep reaches the UNet, spatial sizes must be even, the VAE really changes resolution.
 * Weights come from a seeded generator, so the bytes are the same on every machine.
 */

/**
 * The names Optimum gives the layers the tiny models stand in for, so LoRAs and embeddings find
 * them as they find a real export's: the token table and Conv weights by name, the MatMul weights
 * through their node's scope.
 */
export const TINY_NAMES = {
  tokenEmbedding: 'text_model.embeddings.token_embedding.weight',
  crossAttention: 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k',
  crossAttentionNode: '/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul',
  convIn: 'conv_in.weight',
  downConv: 'down_blocks.0.downsamplers.0.conv.weight',
  convOut: 'conv_out.weight',
} as const;

/** The k-th text encoder layer's MatMul, as its scoped node name. */
export function tinyTextLayerNode(k: number): string {
  return `/text_model/encoder/layers.${k}/self_attn/out_proj/MatMul`;
}

export type TimestepVariant = 'int64' | 'float32' | 'float32-scalar' | 'float16';
export type IoDtype = 'float32' | 'float16';

/** A seeded uniform generator (mulberry32) for weights. */
export function weights(seed: number, count: number, scale: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = (u * 2 - 1) * scale;
  }
  return out;
}

/** Fan-in scaled so each layer keeps roughly unit variance. */
function layer(seed: number, dims: number[]): Float32Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const fanIn = dims.slice(1).reduce((a, b) => a * b, 1);
  return weights(seed, count, Math.sqrt(3 / fanIn));
}

function castIn(g: OnnxGraphBuilder, name: string, dtype: TinyElemType): string {
  return dtype === 'float32' ? name : g.node('Cast', [name], { to: 1 });
}

export interface TextEncoderSpec {
  vocabSize: number;
  hidden: number;
  idsType?: 'int32' | 'int64';
  dtype?: IoDtype;
  /**
   * CLIP's outputs as Optimum exports them with hidden states: `hidden_states.0` (the embeddings),
   * `.1` and `.2` (after each of two layers) and `last_hidden_state` through a real final LayerNorm
   * (`text_model.final_layer_norm.*`), for clip skip. Without it the last state is the layer's output.
   */
  hiddenStates?: boolean;
}

export const TINY_FINAL_NORM = {
  weight: 'text_model.final_layer_norm.weight',
  bias: 'text_model.final_layer_norm.bias',
} as const;

/** `input_ids` [B,77] -> `last_hidden_state` [B,77,hidden], `pooler_output` [B,hidden]. */
export function buildTextEncoder(spec: TextEncoderSpec): Uint8Array {
  const { vocabSize, hidden } = spec;
  const dtype = spec.dtype ?? 'float32';
  const g = new OnnxGraphBuilder('text_encoder');
  const ids = g.input('input_ids', spec.idsType ?? 'int32', ['batch', 77]);
  const embedded = g.node('Gather', [
    g.weight(weights(11, vocabSize * hidden, 1), [vocabSize, hidden], 'float32', TINY_NAMES.tokenEmbedding),
    ids,
  ]);
  const positioned = g.node('Add', [embedded, g.weight(weights(12, 77 * hidden, 0.1), [77, hidden])]);
  const mixed = g.node('Tanh', [
    g.node('Add', [
      g.node(
        'MatMul',
        [positioned, g.weight(layer(13, [hidden, hidden]), [hidden, hidden])],
        {},
        1,
        tinyTextLayerNode(0),
      ),
      g.weight(weights(14, hidden, 0.1), [hidden]),
    ]),
  ]);
  const layerOut = g.node('Add', [positioned, mixed]);
  // With hidden states, a second layer, so there is a layer before the last to skip to.
  const secondOut = spec.hiddenStates
    ? g.node('Add', [
        layerOut,
        g.node('Tanh', [
          g.node(
            'MatMul',
            [layerOut, g.weight(layer(17, [hidden, hidden]), [hidden, hidden])],
            {},
            1,
            tinyTextLayerNode(1),
          ),
        ]),
      ])
    : layerOut;
  const hiddenStates = spec.hiddenStates
    ? g.node(
        'LayerNormalization',
        [
          secondOut,
          g.weight(
            weights(15, hidden, 0.5).map((v) => 1 + v),
            [hidden],
            'float32',
            TINY_FINAL_NORM.weight,
          ),
          g.weight(weights(16, hidden, 0.1), [hidden], 'float32', TINY_FINAL_NORM.bias),
        ],
        { axis: -1, epsilon: { float: 1e-5 } },
      )
    : layerOut;
  const pooled = g.node('ReduceMean', [hiddenStates], { axes: [1], keepdims: 0 });
  const outputs: [string, string, (number | string)[]][] = [
    ['last_hidden_state', hiddenStates, ['batch', 77, hidden]],
    ['pooler_output', pooled, ['batch', hidden]],
  ];
  if (spec.hiddenStates) {
    outputs.push(['hidden_states.0', positioned, ['batch', 77, hidden]]);
    outputs.push(['hidden_states.1', layerOut, ['batch', 77, hidden]]);
    outputs.push(['hidden_states.2', secondOut, ['batch', 77, hidden]]);
  }
  for (const [name, value, dims] of outputs) {
    if (dtype === 'float16') g.nodeTo(name, 'Cast', [value], { to: 10 });
    else g.nodeTo(name, 'Identity', [value]);
    g.output(name, dtype, dims);
  }
  return g.toBytes();
}

export interface UnetSpec {
  inChannels: number;
  outChannels: number;
  contextDim: number;
  timestep?: TimestepVariant;
  dtype?: IoDtype;
  width?: number;
  /** A static latent side, as some exports have; dynamic when absent. */
  fixedSize?: number;
  /** A static batch dimension (exports made for one guided image have 2); dynamic when absent. */
  fixedBatch?: number;
}

/**
 * `sample` [B,in,h,w], `timestep`, `encoder_hidden_states` [B,77,ctx] -> `out_sample` [B,out,h,w].
 * One downsampling level (stride-2 conv, nearest resize back), so odd latent sides fail as they do
 * on a real UNet.
 */
export function buildUnet(spec: UnetSpec): Uint8Array {
  const { inChannels, outChannels, contextDim } = spec;
  const dtype = spec.dtype ?? 'float32';
  const timestep = spec.timestep ?? 'int64';
  const c = spec.width ?? 8;
  const g = new OnnxGraphBuilder('unet');
  const side = (name: string) => spec.fixedSize ?? name;
  const batch = spec.fixedBatch ?? 'batch';
  const sample = castIn(
    g,
    g.input('sample', dtype, [batch, inChannels, side('height'), side('width')]),
    dtype,
  );
  const tType: TinyElemType = timestep === 'float32-scalar' ? 'float32' : timestep;
  const t = g.input('timestep', tType, timestep === 'float32-scalar' ? [] : [batch]);
  const context = castIn(g, g.input('encoder_hidden_states', dtype, [batch, 77, contextDim]), dtype);

  const tFloat = tType === 'float32' ? t : g.node('Cast', [t], { to: 1 });
  const tColumn = g.node('Reshape', [tFloat, g.int64s([-1, 1, 1, 1])]);
  const tEmbedding = g.node('Sin', [g.node('Mul', [tColumn, g.weight([0.01], [1])])]);
  const textBias = g.node('Reshape', [
    g.node(
      'MatMul',
      [
        g.node('ReduceMean', [context], { axes: [1], keepdims: 0 }),
        g.weight(layer(21, [contextDim, c]), [contextDim, c]),
      ],
      {},
      1,
      TINY_NAMES.crossAttentionNode,
    ),
    g.int64s([-1, c, 1, 1]),
  ]);
  const conv1 = g.node(
    'Conv',
    [sample, g.weight(layer(22, [c, inChannels, 3, 3]), [c, inChannels, 3, 3], 'float32', TINY_NAMES.convIn)],
    {
      pads: [1, 1, 1, 1],
    },
  );
  const h = g.node('Tanh', [g.node('Add', [g.node('Add', [conv1, textBias]), tEmbedding])]);
  const down = g.node('Tanh', [
    g.node('Conv', [h, g.weight(layer(23, [c, c, 3, 3]), [c, c, 3, 3], 'float32', TINY_NAMES.downConv)], {
      pads: [1, 1, 1, 1],
      strides: [2, 2],
    }),
  ]);
  const up = g.node('Resize', [down, '', g.weight([1, 1, 2, 2], [4])], { mode: 'nearest' });
  const detail = g.node(
    'Conv',
    [
      g.node('Add', [h, up]),
      g.weight(layer(24, [outChannels, c, 3, 3]), [outChannels, c, 3, 3], 'float32', TINY_NAMES.convOut),
    ],
    { pads: [1, 1, 1, 1] },
  );
  // Predicting the noise as (mostly) the input itself is what an ideal denoiser of near-grey pictures
  // does, so the tiny model's pictures settle into soft colours instead of clipping.
  const skip = g.node('Slice', [sample, g.int64s([0]), g.int64s([outChannels]), g.int64s([1])]);
  const out = g.node('Add', [skip, g.node('Mul', [detail, g.weight([0.3], [1])])]);
  g.nodeTo(
    'out_sample',
    dtype === 'float16' ? 'Cast' : 'Identity',
    [out],
    dtype === 'float16' ? { to: 10 } : {},
  );
  g.output('out_sample', dtype, [batch, outChannels, side('height'), side('width')]);
  return g.toBytes();
}

export type VaeLayout =
  /** Stable Diffusion's: 4 latent channels, 8x smaller. */
  | 'sd'
  /** easel-mini's: a pixel rearrangement, 12 latent channels, 2x smaller. */
  | 'pixel-shuffle';

// Encoder and decoder mixing matrices for the SD layout: decode(encode(x)) gives back a flat-coloured
// 8x8 block exactly, so img2img at low strength visibly keeps the picture. The 1/0.18215 inside the
// encoder (undone in the decoder) makes scaled latents of unit size, as SD's are.
const SD_SCALING = 0.18215;
const SD_ENCODE = [1, 0, 0, 0, 1, 0, 0, 0, 1, 1 / 3, 1 / 3, 1 / 3].map((v) => v / SD_SCALING);
const SD_DECODE = [
  11 / 12,
  -1 / 12,
  -1 / 12,
  1 / 4,
  -1 / 12,
  11 / 12,
  -1 / 12,
  1 / 4,
  -1 / 12,
  -1 / 12,
  11 / 12,
  1 / 4,
].map((v) => v * SD_SCALING);

/** `latent_sample` [B,L,h,w] -> `sample` [B,3,f*h,f*w] in [-1,1]. */
/**
 * A full-resolution block the benchmark adds to a tiny VAE decoder: a real decoder's last blocks run
 * 128 channels at full size, so the pixel-sized work of a render is the network's, not easel's.
 * Its output weights are zero, so `image` passes through unchanged.
 */
export function benchDecoderBlock(g: OnnxGraphBuilder, image: string, width: number | undefined): string {
  if (width === undefined) return image;
  const wide = g.node('Relu', [
    g.node('Conv', [image, g.weight(weights(91, width * 27, 0.1), [width, 3, 3, 3])], {
      pads: [1, 1, 1, 1],
    }),
  ]);
  const back = g.node('Conv', [wide, g.weight(new Float32Array(3 * width * 9), [3, width, 3, 3])], {
    pads: [1, 1, 1, 1],
  });
  return g.node('Add', [image, back]);
}

export function buildVaeDecoder(
  layout: VaeLayout,
  dtype: IoDtype = 'float32',
  benchWidth?: number,
): Uint8Array {
  const g = new OnnxGraphBuilder('vae_decoder');
  const channels = layout === 'sd' ? 4 : 12;
  const latent = castIn(
    g,
    g.input('latent_sample', dtype, ['batch', channels, 'latent_height', 'latent_width']),
    dtype,
  );
  let image: string;
  if (layout === 'sd') {
    const mixed = g.node('Conv', [latent, g.weight(SD_DECODE, [3, 4, 1, 1])]);
    image = g.node('Resize', [mixed, '', g.weight([1, 1, 8, 8], [4])], { mode: 'nearest' });
  } else {
    image = g.node('DepthToSpace', [latent], { blocksize: 2, mode: 'DCR' });
  }
  const clipped = g.node('Clip', [
    benchDecoderBlock(g, image, benchWidth),
    g.weight([-1], []),
    g.weight([1], []),
  ]);
  g.nodeTo(
    'sample',
    dtype === 'float16' ? 'Cast' : 'Identity',
    [clipped],
    dtype === 'float16' ? { to: 10 } : {},
  );
  g.output('sample', dtype, ['batch', 3, 'height', 'width']);
  return g.toBytes();
}

/** `sample` [B,3,H,W] in [-1,1] -> `latent_sample` [B,L,H/f,W/f]. */
export function buildVaeEncoder(layout: VaeLayout, dtype: IoDtype = 'float32'): Uint8Array {
  const g = new OnnxGraphBuilder('vae_encoder');
  const channels = layout === 'sd' ? 4 : 12;
  const image = castIn(g, g.input('sample', dtype, ['batch', 3, 'height', 'width']), dtype);
  let latent: string;
  if (layout === 'sd') {
    const pooled = g.node('AveragePool', [image], { kernel_shape: [8, 8], strides: [8, 8] });
    latent = g.node('Conv', [pooled, g.weight(SD_ENCODE, [4, 3, 1, 1])]);
  } else {
    latent = g.node('SpaceToDepth', [image], { blocksize: 2 });
  }
  g.nodeTo(
    'latent_sample',
    dtype === 'float16' ? 'Cast' : 'Identity',
    [latent],
    dtype === 'float16' ? { to: 10 } : {},
  );
  g.output('latent_sample', dtype, ['batch', channels, 'latent_height', 'latent_width']);
  return g.toBytes();
}

/**
 * The SD safety checker's contract: `clip_input` [B,3,224,224] (CLIP-normalized), `images`
 * [B,H,W,3] -> `out_images`, `has_nsfw_concepts` bool [B]. This one flags strongly red pictures, so a
 * test can make a flagged image on purpose.
 */
export function buildSafetyChecker(): Uint8Array {
  const g = new OnnxGraphBuilder('safety_checker');
  const clip = g.input('clip_input', 'float32', ['batch', 3, 224, 224]);
  const images = g.input('images', 'float32', ['batch', 'height', 'width', 3]);
  const means = g.node('ReduceMean', [clip], { axes: [2, 3], keepdims: 0 });
  const redness = g.node('Reshape', [
    g.node('MatMul', [means, g.weight([1, 0, -1], [3, 1])]),
    g.int64s([-1]),
  ]);
  g.nodeTo('has_nsfw_concepts', 'Greater', [redness, g.weight([1], [])]);
  g.nodeTo('out_images', 'Identity', [images]);
  g.output('out_images', 'float32', ['batch', 'height', 'width', 3]);
  g.output('has_nsfw_concepts', 'bool', ['batch']);
  return g.toBytes();
}

/** A two-class image classifier: `pixel_values` [B,3,224,224] -> `logits` [B,2] (normal, nsfw). */
export function buildNsfwClassifier(): Uint8Array {
  const g = new OnnxGraphBuilder('classifier');
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, 224, 224]);
  const means = g.node('ReduceMean', [pixels], { axes: [2, 3], keepdims: 0 });
  const logits = g.node('Add', [
    g.node('MatMul', [means, g.weight([0, 1, 0, 0, 0, -1], [3, 2])]),
    g.weight([0, -1], [2]),
  ]);
  g.nodeTo('logits', 'Identity', [logits]);
  g.output('logits', 'float32', ['batch', 2]);
  return g.toBytes();
}

/** Real-ESRGAN's layout: `input` [B,3,H,W] in [0,1] -> `output` [B,3,4H,4W]. */
export function buildUpscaler(): Uint8Array {
  const g = new OnnxGraphBuilder('upscaler');
  const input = g.input('input', 'float32', ['batch', 3, 'height', 'width']);
  const big = g.node('Resize', [input, '', g.weight([1, 1, 4, 4], [4])], { mode: 'nearest' });
  const blur = [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16);
  const smooth = g.node('Conv', [big, g.weight([...blur, ...blur, ...blur], [3, 1, 3, 3])], {
    pads: [1, 1, 1, 1],
    group: 3,
  });
  g.nodeTo('output', 'Clip', [smooth, g.weight([0], []), g.weight([1], [])]);
  g.output('output', 'float32', ['batch', 3, 'height4', 'width4']);
  return g.toBytes();
}
