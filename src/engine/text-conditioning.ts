import { CodedError } from '../errors/coded-error.ts';
import type { ModelFamily } from '../models/model-family.ts';
import { applyFinalNorm } from './clip-skip.ts';
import type { DiffusionModel, TextEncoderPart } from './diffusion-model.ts';
import { outputOf, runPart, toIdsInput } from './onnx-io.ts';
import { recentEncoding } from './recent-encodings.ts';

/** One of the denoiser's conditioning inputs, for the unconditional and the conditional half. */
export interface ConditioningInput {
  /** The denoiser's input name (`encoder_hidden_states`, `text_embeds`, `time_ids`, `pooled_projections`). */
  name: string;
  /** The negative prompt's values (the unconditional half of classifier-free guidance). */
  uncond: Float32Array;
  cond: Float32Array;
  /** The shape of one batch item, e.g. [77, 2048] or [6]. */
  shape: number[];
}

/** Shared with later renders of the same prompts (recent-encodings.ts): read, never written. */
export interface TextConditioning {
  inputs: ConditioningInput[];
  /** Words of the prompt cut past the (first) tokenizer's window. */
  truncatedWords: string[];
}

/** The rendered size in pixels: SDXL's micro-conditioning (`time_ids`) takes it. */
export interface RenderSize {
  width: number;
  height: number;
}

/** One text encoder's output for the negative prompt [0] and the prompt [1]. */
interface EncodedText {
  hidden: [Float32Array, Float32Array];
  tokens: number;
  width: number;
  pooled?: [Float32Array, Float32Array];
  truncatedWords: string[];
}

/**
 * The SDXL refiner's aesthetic scores (diffusers' StableDiffusionXLImg2ImgPipeline.__call__
 * defaults `aesthetic_score=6.0`, `negative_aesthetic_score=2.5`).
 */
const AESTHETIC_SCORE = 6;
const NEGATIVE_AESTHETIC_SCORE = 2.5;

/**
 * Encodes the prompt and the negative prompt with every text encoder of the model, each once for
 * the pair (one batch of two; two runs when an encoder was exported with a fixed batch of one),
 * or not at all when it encoded the same pair moments ago (recent-encodings.ts), and joins them
 * into the denoiser's inputs as the family's diffusers pipeline does.
 */
export async function encodeText(
  model: DiffusionModel,
  prompt: string,
  negativePrompt: string,
  size: RenderSize,
): Promise<TextConditioning> {
  // diffusers' SDXL encode_prompt: `zero_out_negative_prompt = negative_prompt is None and
  // self.config.force_zeros_for_empty_prompt`: the negative half is zeros, not the encoded "".
  const zeroNegative = model.layout.forceZerosForEmptyPrompt && negativePrompt.trim() === '';
  const encoded: (EncodedText | undefined)[] = [];
  for (const encoder of model.textEncoders) {
    encoded.push(
      encoder === undefined
        ? undefined
        : await recentEncoding(encoder, [prompt, negativePrompt, zeroNegative], () =>
            encodeWith(encoder, prompt, negativePrompt, zeroNegative),
          ),
    );
  }
  const first = encoded.find((e) => e !== undefined);
  return {
    inputs: COMBINE[model.layout.family](model, encoded, size),
    truncatedWords: first?.truncatedWords ?? [],
  };
}

async function encodeWith(
  encoder: TextEncoderPart,
  prompt: string,
  negativePrompt: string,
  zeroNegative: boolean,
): Promise<EncodedText> {
  const positive = encoder.tokenizer.encode(prompt);
  const tokens = encoder.tokenizer.maxLength;
  const wanted = [
    encoder.hiddenOutput,
    ...(encoder.pooledOutput !== undefined ? [encoder.pooledOutput] : []),
  ];
  const run = async (ids: number[], batch: number) => {
    const result = await runPart(
      encoder.session,
      encoder.part,
      { input_ids: toIdsInput(encoder.ids, ids, [batch, tokens]) },
      wanted,
    );
    const hidden = outputOf(result, encoder.part, encoder.hiddenOutput);
    if (hidden.dims.length !== 3 || hidden.dims[0] !== batch || hidden.dims[1] !== tokens) {
      throw new CodedError(
        'model-invalid',
        `${encoder.part}/model.onnx output "${encoder.hiddenOutput}" has shape [${hidden.dims.join(', ')}], ` +
          `expected [${batch}, ${tokens}, hidden]`,
      );
    }
    if (encoder.finalNorm !== undefined) applyFinalNorm(hidden.data, hidden.dims[2]!, encoder.finalNorm);
    const pooled =
      encoder.pooledOutput !== undefined ? outputOf(result, encoder.part, encoder.pooledOutput) : undefined;
    if (pooled !== undefined && (pooled.dims.length !== 2 || pooled.dims[0] !== batch)) {
      throw new CodedError(
        'model-invalid',
        `${encoder.part}/model.onnx output "${encoder.pooledOutput}" has shape [${pooled.dims.join(', ')}], ` +
          `expected [${batch}, width]`,
      );
    }
    return { hidden, pooled };
  };
  const halves = async (): Promise<{ hidden: Float32Array[]; pooled?: Float32Array[]; width: number }> => {
    if (zeroNegative) {
      const { hidden, pooled } = await run(positive.ids, 1);
      const out: { hidden: Float32Array[]; pooled?: Float32Array[]; width: number } = {
        hidden: [new Float32Array(hidden.data.length), hidden.data],
        width: hidden.dims[2]!,
      };
      if (pooled !== undefined) out.pooled = [new Float32Array(pooled.data.length), pooled.data];
      return out;
    }
    const negative = encoder.tokenizer.encode(negativePrompt);
    if (encoder.ids.shape[0] === 1) {
      const a = await run(negative.ids, 1);
      const b = await run(positive.ids, 1);
      const out: { hidden: Float32Array[]; pooled?: Float32Array[]; width: number } = {
        hidden: [a.hidden.data, b.hidden.data],
        width: a.hidden.dims[2]!,
      };
      if (a.pooled !== undefined && b.pooled !== undefined) out.pooled = [a.pooled.data, b.pooled.data];
      return out;
    }
    const both = await run([...negative.ids, ...positive.ids], 2);
    const width = both.hidden.dims[2]!;
    const out: { hidden: Float32Array[]; pooled?: Float32Array[]; width: number } = {
      // Views of the run's own output, which nothing else holds or writes: no copy of either half.
      hidden: [both.hidden.data.subarray(0, tokens * width), both.hidden.data.subarray(tokens * width)],
      width,
    };
    if (both.pooled !== undefined) {
      const p = both.pooled.dims[1]!;
      out.pooled = [both.pooled.data.subarray(0, p), both.pooled.data.subarray(p)];
    }
    return out;
  };
  const { hidden, pooled, width } = await halves();
  const result: EncodedText = {
    hidden: [hidden[0]!, hidden[1]!],
    tokens,
    width,
    truncatedWords: positive.truncatedWords,
  };
  if (pooled !== undefined) result.pooled = [pooled[0]!, pooled[1]!];
  return result;
}

type Combine = (
  model: DiffusionModel,
  encoded: (EncodedText | undefined)[],
  size: RenderSize,
) => ConditioningInput[];

function need(encoded: EncodedText | undefined): EncodedText {
  if (encoded === undefined) throw new CodedError('engine-failed', 'a required text encoder gave no output');
  return encoded;
}

function pooledOf(encoded: EncodedText): [Float32Array, Float32Array] {
  if (encoded.pooled === undefined)
    throw new CodedError('engine-failed', 'a pooled text embedding is missing');
  return encoded.pooled;
}

/** [T, a] and [T, b] per half -> [T, a + b]: torch.concat(..., dim=-1) of the hidden states. */
function joinWidths(parts: { data: Float32Array; width: number }[], tokens: number): Float32Array {
  const total = parts.reduce((a, p) => a + p.width, 0);
  const out = new Float32Array(tokens * total);
  for (let t = 0; t < tokens; t++) {
    let offset = t * total;
    for (const p of parts) {
      out.set(p.data.subarray(t * p.width, (t + 1) * p.width), offset);
      offset += p.width;
    }
  }
  return out;
}

function half(encoded: EncodedText, i: 0 | 1) {
  return { data: encoded.hidden[i], width: encoded.width };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** SD 1 and 2: the one encoder's hidden states. */
const single: Combine = (_model, encoded) => {
  const e = need(encoded[0]);
  return [
    { name: 'encoder_hidden_states', uncond: e.hidden[0], cond: e.hidden[1], shape: [e.tokens, e.width] },
  ];
};

/**
 * SDXL's micro-conditioning, diffusers' StableDiffusionXLPipeline._get_add_time_ids:
 * `original_size + crops_coords_top_left + target_size` = [h, w, 0, 0, h, w]; the refiner's
 * (StableDiffusionXLImg2ImgPipeline._get_add_time_ids with requires_aesthetics_score):
 * `original_size + crops_coords_top_left + (aesthetic_score,)`, 2.5 for the negative half.
 * easel renders at the asked size with no crop, so original = target = the render size.
 */
function timeIds(model: DiffusionModel, size: RenderSize): ConditioningInput {
  const fixed = model.denoiser.inputs.time_ids?.shape[1];
  const count = typeof fixed === 'number' ? fixed : model.layout.requiresAestheticsScore ? 5 : 6;
  const { height: h, width: w } = size;
  if (count === 5) {
    return {
      name: 'time_ids',
      uncond: Float32Array.of(h, w, 0, 0, NEGATIVE_AESTHETIC_SCORE),
      cond: Float32Array.of(h, w, 0, 0, AESTHETIC_SCORE),
      shape: [5],
    };
  }
  const ids = Float32Array.of(h, w, 0, 0, h, w);
  return { name: 'time_ids', uncond: ids, cond: ids, shape: [6] };
}

/**
 * SDXL (diffusers' StableDiffusionXLPipeline.encode_prompt): each encoder's penultimate hidden
 * states joined on the last axis (768 + 1280 = 2048), the pooled `text_embeds` of the last encoder
 * (the refiner has only that one), and the time ids.
 */
const sdxl: Combine = (model, encoded, size) => {
  const present = encoded.map(need);
  const last = present.at(-1)!;
  const tokens = last.tokens;
  if (present.some((e) => e.tokens !== tokens))
    throw new CodedError('model-invalid', 'the SDXL text encoders take different token windows');
  const width = present.reduce((a, e) => a + e.width, 0);
  const pooled = pooledOf(last);
  return [
    {
      name: 'encoder_hidden_states',
      uncond: joinWidths(
        present.map((e) => half(e, 0)),
        tokens,
      ),
      cond: joinWidths(
        present.map((e) => half(e, 1)),
        tokens,
      ),
      shape: [tokens, width],
    },
    { name: 'text_embeds', uncond: pooled[0], cond: pooled[1], shape: [pooled[1].length] },
    timeIds(model, size),
  ];
};

/**
 * SD3 (diffusers' StableDiffusion3Pipeline.encode_prompt): CLIP-L's and CLIP-G's penultimate hidden
 * states joined on the last axis, zero-padded to T5's width (`torch.nn.functional.pad(clip_prompt_embeds,
 * (0, t5_prompt_embed.shape[-1] - clip_prompt_embeds.shape[-1]))`), then T5's tokens appended on
 * the sequence axis (`torch.cat([clip_prompt_embeds, t5_prompt_embed], dim=-2)`); without T5,
 * `_get_t5_prompt_embeds` gives zeros of [max_sequence_length = 256, joint_attention_dim].
 * `pooled_projections` joins both CLIPs' pooled embeddings.
 */
const sd3: Combine = (model, encoded) => {
  const l = need(encoded[0]);
  const g = need(encoded[1]);
  const t5 = encoded[2];
  const jointFixed = model.denoiser.inputs.encoder_hidden_states?.shape[2];
  const joint =
    t5?.width ??
    (typeof jointFixed === 'number' ? jointFixed : undefined) ??
    (model.denoiserConfig.joint_attention_dim as number | undefined);
  if (joint === undefined)
    throw new CodedError('model-invalid', 'cannot tell the transformer joint_attention_dim');
  const clipWidth = l.width + g.width;
  const t5Tokens = t5?.tokens ?? model.strategy.maxTokens[2] ?? 256;
  const sequence = l.tokens + t5Tokens;
  const build = (i: 0 | 1) => {
    const clip = joinWidths([half(l, i), half(g, i)], l.tokens);
    const out = new Float32Array(sequence * joint);
    for (let t = 0; t < l.tokens; t++) out.set(clip.subarray(t * clipWidth, (t + 1) * clipWidth), t * joint);
    if (t5 !== undefined) out.set(t5.hidden[i], l.tokens * joint);
    return out;
  };
  const pl = pooledOf(l);
  const pg = pooledOf(g);
  return [
    { name: 'encoder_hidden_states', uncond: build(0), cond: build(1), shape: [sequence, joint] },
    {
      name: 'pooled_projections',
      uncond: concat([pl[0], pg[0]]),
      cond: concat([pl[1], pg[1]]),
      shape: [pl[1].length + pg[1].length],
    },
  ];
};

const COMBINE: Record<ModelFamily, Combine> = {
  sd1: single,
  sd2: single,
  sdxl,
  'sdxl-refiner': sdxl,
  sd3,
};
