import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { float32ToHalf } from '../../src/engine/float16.ts';
import { encodeSafetensors, type TensorToWrite } from '../../src/engine/safetensors/encode-safetensors.ts';
import { OnnxGraphBuilder } from '../../src/engine/tiny/onnx-graph-builder.ts';

const { onnx } = onnxProto;

/**
 * Tiny models named as Optimum names a Stable Diffusion export: Conv weights keep their module
 * names (`down_blocks.0.resnets.0.conv1.weight`), Linear weights are anonymous transposed
 * `onnx::MatMul_N` initializers of a MatMul node named by its scope
 * (`/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`). The graph is built with
 * the tiny graph builder, then its nodes and initializers are renamed.
 *
 * `sample` [1, C, 4, 4] runs through the convolutions, becomes 16 tokens of width C, runs through
 * the linears; `context` [1, 3, D] reaches the tokens through the cross-attention projections.
 */
export interface NamedModelSpec {
  channels: number;
  convs?: { module: string; kernel: 1 | 3 }[];
  linears?: string[];
  /** Linears exported as Gemm on 2-D input, their weights named and [out, in] (transB). */
  gemms?: string[];
  /** Projections of the context into the tokens' width, as attn2's to_k. */
  cross?: { module: string; contextDim: number }[];
  dtype?: 'float32' | 'float16';
  /** Weights by module in the layout a LoRA sees them: [out, in(, kh, kw)]. */
  weights?: Record<string, Float32Array>;
}

/** Small dyadic values: every sum of products the tests make is exact in float32 and float16. */
export function dyadic(seed: number, count: number, denominator = 16, span = 8): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = ((state >>> 8) % (2 * span + 1)) - span;
    out[i]! /= denominator;
  }
  return out;
}

/** [out, in] as the [in, out] a MatMul takes. */
export function transpose(values: Float32Array, out: number, inner: number): Float32Array {
  const t = new Float32Array(values.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inner; i++) t[i * out + o] = values[o * inner + i]!;
  return t;
}

export function moduleShape(spec: NamedModelSpec, module: string): number[] {
  const c = spec.channels;
  const conv = spec.convs?.find((m) => m.module === module);
  if (conv) return [c, c, conv.kernel, conv.kernel];
  const cross = spec.cross?.find((m) => m.module === module);
  if (cross) return [c, cross.contextDim];
  return [c, c];
}

export function defaultWeights(spec: NamedModelSpec): Record<string, Float32Array> {
  const modules = [
    ...(spec.convs ?? []).map((m) => m.module),
    ...(spec.linears ?? []),
    ...(spec.gemms ?? []),
    ...(spec.cross ?? []).map((m) => m.module),
  ];
  return Object.fromEntries(
    modules.map((module, i) => [
      module,
      dyadic(
        100 + i,
        moduleShape(spec, module).reduce((a, b) => a * b, 1),
      ),
    ]),
  );
}

export function buildNamedModel(spec: NamedModelSpec): Uint8Array {
  const c = spec.channels;
  const dtype = spec.dtype ?? 'float32';
  const weights = { ...defaultWeights(spec), ...(spec.weights ?? {}) };
  const g = new OnnxGraphBuilder('named');
  const nodeNames = new Map<string, string>();
  const initializerNames = new Map<string, string>();
  let anonymous = 900;
  let h = g.input('sample', dtype, [1, c, 4, 4]);
  for (const { module, kernel } of spec.convs ?? []) {
    const w = g.weight(weights[module]!, [c, c, kernel, kernel], dtype);
    initializerNames.set(w, `${module}.weight`);
    h = g.node('Conv', [h, w], { pads: kernel === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] });
    nodeNames.set(h, `/${module.replaceAll('.', '/')}/Conv`);
  }
  let tokens = g.node('Transpose', [g.node('Reshape', [h, g.int64s([1, c, 16])])], { perm: [0, 2, 1] });
  const scoped = (input: string, module: string, inner: number) => {
    const w = g.weight(transpose(weights[module]!, c, inner), [inner, c], dtype);
    initializerNames.set(w, `onnx::MatMul_${anonymous++}`);
    const out = g.node('MatMul', [input, w]);
    nodeNames.set(out, `/${module.replaceAll('.', '/')}/MatMul`);
    return out;
  };
  for (const module of spec.linears ?? []) tokens = scoped(tokens, module, c);
  for (const module of spec.gemms ?? []) {
    const w = g.weight(weights[module]!, [c, c], dtype);
    initializerNames.set(w, `${module}.weight`);
    const flat = g.node('Gemm', [g.node('Reshape', [tokens, g.int64s([16, c])]), w], { transB: 1 });
    nodeNames.set(flat, `/${module.replaceAll('.', '/')}/Gemm`);
    tokens = g.node('Reshape', [flat, g.int64s([1, 16, c])]);
  }
  for (const { module, contextDim } of spec.cross ?? []) {
    const context = g.input(`context_${contextDim}`, dtype, [1, 3, contextDim]);
    tokens = g.node('Add', [
      tokens,
      g.node('ReduceMean', [scoped(context, module, contextDim)], { axes: [1], keepdims: 1 }),
    ]);
  }
  g.nodeTo('out', 'Identity', [tokens]);
  g.output('out', dtype, [1, 16, c]);

  const model = onnx.ModelProto.decode(g.toBytes());
  for (const node of model.graph!.node!) {
    const name = nodeNames.get(node.output![0]!);
    if (name) node.name = name;
    node.input = node.input!.map((input) => initializerNames.get(input) ?? input);
  }
  for (const tensor of model.graph!.initializer!)
    tensor.name = initializerNames.get(tensor.name!) ?? tensor.name;
  return onnx.ModelProto.encode(model).finish();
}

/** Writes the model with every weight moved to one external data file (any name). */
export function writeWithExternalData(bytes: Uint8Array, dir: string, dataFile: string): string {
  const model = onnx.ModelProto.decode(bytes);
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph!.initializer!) {
    const raw = tensor.rawData!;
    // Shapes (int64) stay inline: onnxruntime reads them while inferring shapes.
    if (
      tensor.dataType !== onnx.TensorProto.DataType.FLOAT &&
      tensor.dataType !== onnx.TensorProto.DataType.FLOAT16
    )
      continue;
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.externalData = [
      { key: 'location', value: dataFile },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    tensor.rawData = new Uint8Array(0);
    blobs.push(raw);
    offset += raw.length;
  }
  writeFileSync(join(dir, dataFile), Buffer.concat(blobs));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

export function writeLora(path: string, tensors: Record<string, TensorToWrite>): string {
  writeFileSync(path, encodeSafetensors(tensors));
  return path;
}

export function f32(shape: number[], values: Float32Array): TensorToWrite {
  return { dtype: 'F32', shape, values };
}

/** One LoRA layer: down [rank, in…], up [out, rank(, 1, 1)], coarse enough for exact sums. */
export function loraPair(seed: number, rank: number, out: number, inDims: number[], conv = false) {
  const inner = inDims.reduce((a, b) => a * b, 1);
  return {
    down: f32([rank, ...inDims], dyadic(seed, rank * inner, 4, 2)),
    up: f32(conv ? [out, rank, 1, 1] : [out, rank], dyadic(seed + 1, out * rank, 4, 2)),
  };
}

/** W + coefficient × up · down, in the [out, in…] layout. */
export function reference(
  weight: Float32Array,
  pairs: { down: TensorToWrite; up: TensorToWrite; coefficient: number }[],
): Float32Array {
  const sum = Float64Array.from(weight);
  for (const { down, up, coefficient } of pairs) {
    const rank = down.shape[0]!;
    const inner = down.values.length / rank;
    const out = up.shape[0]!;
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inner; i++) {
        let d = 0;
        for (let k = 0; k < rank; k++) d += up.values[o * rank + k]! * down.values[k * inner + i]!;
        sum[o * inner + i]! += coefficient * d;
      }
  }
  return Float32Array.from(sum);
}

/** The model's `out` for fixed inputs. */
export async function runNamed(
  model: Uint8Array | InferenceSession,
  spec: NamedModelSpec,
): Promise<Float32Array | Uint16Array> {
  const session = model instanceof Uint8Array ? await InferenceSession.create(model) : model;
  const dtype = spec.dtype ?? 'float32';
  const tensor = (values: Float32Array, dims: number[]) =>
    dtype === 'float16'
      ? new Tensor('float16', float32ToHalf(values), dims)
      : new Tensor('float32', values, dims);
  const feeds: Record<string, Tensor> = {
    sample: tensor(dyadic(7, spec.channels * 16), [1, spec.channels, 4, 4]),
  };
  for (const { contextDim } of spec.cross ?? [])
    feeds[`context_${contextDim}`] = tensor(dyadic(8, 3 * contextDim), [1, 3, contextDim]);
  const out = (await session.run(feeds)).out!;
  return out.data as Float32Array | Uint16Array;
}
