import { join } from 'node:path';
import { UserError } from '../errors/user-error.ts';
import { FAMILY_LABELS } from '../models/model-family.ts';
import type { DiffusionModel, FinalNorm, TextEncoderPart } from './diffusion-model.ts';
import { OnnxModelWeights } from './lora/onnx-model-weights.ts';

/**
 * AUTOMATIC1111's clip skip for SD 1.x and 2.x: the prompt is read from CLIP's n-th layer from the
 * end (`hidden_states[-n]`) put through the encoder's final LayerNorm, as A1111's
 * FrozenCLIPEmbedder does (1 is the last layer, the model's own `last_hidden_state`). The export
 * must give the hidden states (`hidden_states.0` … `hidden_states.L`, as Optimum exports SDXL's
 * encoders); the LayerNorm's weights are read from it by name.
 */
const FINAL_NORM = 'text_model.final_layer_norm';
const norms = new Map<string, Promise<FinalNorm>>();

function refuse(message: string): UserError {
  return new UserError('invalid-request', message, { fields: [{ field: 'clip_skip', message }] });
}

async function readFinalNorm(dir: string, part: string): Promise<FinalNorm> {
  const weights = await OnnxModelWeights.load(join(dir, part, 'model.onnx'));
  if (!weights.initializers.has(`${FINAL_NORM}.weight`) || !weights.initializers.has(`${FINAL_NORM}.bias`)) {
    throw refuse(
      `clip skip needs ${part}'s final LayerNorm (${FINAL_NORM}.weight and .bias), which this export does not name`,
    );
  }
  const node = weights.model.graph?.node?.find(
    (n) => n.opType === 'LayerNormalization' && n.input?.[1] === `${FINAL_NORM}.weight`,
  );
  const epsilon = node?.attribute?.find((a) => a.name === 'epsilon')?.f;
  return {
    weight: await weights.readFloat32(`${FINAL_NORM}.weight`),
    bias: await weights.readFloat32(`${FINAL_NORM}.bias`),
    epsilon: typeof epsilon === 'number' && epsilon > 0 ? epsilon : 1e-5,
  };
}

/** The model reading its prompts `skip` layers from the end; refused where the export cannot. */
export async function withClipSkip(model: DiffusionModel, skip: number): Promise<DiffusionModel> {
  const family = model.layout.family;
  if (family !== 'sd1' && family !== 'sd2') {
    throw refuse(
      `clip skip applies to Stable Diffusion 1.x and 2.x models; ${model.id} is ${FAMILY_LABELS[family]}, which reads its own layer`,
    );
  }
  const encoder = model.textEncoders[0] as TextEncoderPart;
  const layers = encoder.session.outputNames
    .map((name) => /^hidden_states\.(\d+)$/.exec(name)?.[1])
    .filter((n) => n !== undefined)
    .map(Number);
  if (layers.length === 0) {
    throw refuse(
      `${model.id}'s ${encoder.part} was exported without its hidden states, so clip skip cannot be used with it (export the text encoder with output_hidden_states set in its config, as Optimum does for SDXL)`,
    );
  }
  const last = Math.max(...layers);
  // hidden_states.0 is the embeddings, before any layer: skipping past every layer reads nothing.
  if (skip > last) {
    throw refuse(`clip skip can be at most ${last} for ${model.id}: its text encoder has ${last} layers`);
  }
  if (skip === 1) return model;
  const key = `${model.dir}|${encoder.part}`;
  let norm = norms.get(key);
  if (norm === undefined) {
    norm = readFinalNorm(model.dir, encoder.part);
    norms.set(key, norm);
    norm.catch(() => norms.delete(key));
  }
  const skipped: TextEncoderPart = {
    ...encoder,
    hiddenOutput: `hidden_states.${last + 1 - skip}`,
    finalNorm: await norm,
  };
  return { ...model, textEncoders: [skipped, ...model.textEncoders.slice(1)], release: async () => {} };
}

/** LayerNorm over each token's vector, in place. */
export function applyFinalNorm(values: Float32Array, width: number, norm: FinalNorm): Float32Array {
  for (let start = 0; start < values.length; start += width) {
    let mean = 0;
    for (let i = 0; i < width; i++) mean += values[start + i]!;
    mean /= width;
    let variance = 0;
    for (let i = 0; i < width; i++) variance += (values[start + i]! - mean) ** 2;
    variance /= width;
    const scale = 1 / Math.sqrt(variance + norm.epsilon);
    for (let i = 0; i < width; i++) {
      values[start + i] = (values[start + i]! - mean) * scale * norm.weight[i]! + norm.bias[i]!;
    }
  }
  return values;
}
