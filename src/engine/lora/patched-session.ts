import { open } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { InferenceSession } from 'onnxruntime-node';
import type { ModelProto, OnnxModelWeights, PatchedTensor, TensorProto } from './onnx-model-weights.ts';

const { onnx } = onnxProto;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
const GiB = 1024 ** 3;

/**
 * A model with some initializers replaced, handed to onnxruntime from memory: the model on disk is
 * never rewritten. Two ways, by size:
 *
 * - inline (the usual case): the graph is re-encoded with the patched tensors' bytes inside it and
 *   every other external tensor still read by onnxruntime from its file, through the session option
 *   naming the model's folder. A protobuf message stops at 2 GiB, so this needs the patched and the
 *   model's own inline weights to stay under `inlineLimitBytes`.
 * - in memory: for bigger patches (an SDXL LoRA of every attention layer rewrites gigabytes) all
 *   external data goes through onnxruntime's `externalData` option, which, once given, must hold
 *   every external file — so the unpatched ranges are read into memory too. A Node buffer holds at
 *   most 4 GiB; the data is cut into `chunkBytes` pieces at tensor boundaries.
 */
export interface PatchOptions {
  inlineLimitBytes?: number;
  chunkBytes?: number;
}

export interface PatchedModel {
  bytes: Uint8Array;
  options: InferenceSession.SessionOptions;
  mode: 'inline' | 'in-memory';
}

function external(tensor: TensorProto, location: string, offset: number, length: number): TensorProto {
  return onnx.TensorProto.create({
    name: tensor.name,
    dataType: tensor.dataType,
    dims: tensor.dims,
    dataLocation: EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
  });
}

type ValueInfo = onnxProto.onnx.IValueInfoProto;

/**
 * The model with its initializers replaced. Older exports (IR 3) also list every initializer as a
 * graph input with its shape, which must follow a tensor that grew (a longer token table).
 */
function withInitializers(
  model: ModelProto,
  initializer: TensorProto[],
  patches: ReadonlyMap<string, PatchedTensor>,
): Uint8Array {
  const reshaped = (info: ValueInfo): ValueInfo => {
    const patched = patches.get(info.name ?? '');
    const tensorType = info.type?.tensorType;
    if (patched === undefined || !tensorType) return info;
    const dim = patched.dims.map((dimValue) => ({ dimValue }));
    return onnx.ValueInfoProto.create({ ...info, type: { tensorType: { ...tensorType, shape: { dim } } } });
  };
  const graph = onnx.GraphProto.create({
    ...model.graph,
    initializer,
    input: (model.graph?.input ?? []).map(reshaped),
    valueInfo: (model.graph?.valueInfo ?? []).map(reshaped),
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph })).finish();
}

/** Cuts byte ranges (sorted by start) into pieces of at most `limit` bytes (one range may exceed it alone). */
function pieces<T extends { offset: number; length: number }>(ranges: T[], limit: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let start = 0;
  for (const range of ranges) {
    if (current.length > 0 && range.offset + range.length - start > limit) {
      out.push(current);
      current = [];
    }
    if (current.length === 0) start = range.offset;
    current.push(range);
  }
  if (current.length > 0) out.push(current);
  return out;
}

export async function patchedModel(
  weights: OnnxModelWeights,
  patches: ReadonlyMap<string, PatchedTensor>,
  { inlineLimitBytes = 1.5 * GiB, chunkBytes = GiB }: PatchOptions = {},
): Promise<PatchedModel> {
  const tensors = weights.model.graph?.initializer ?? [];
  const patchedOf = (tensor: TensorProto) => patches.get(tensor.name ?? '');
  let inlineBytes = 0;
  for (const tensor of tensors) {
    inlineBytes +=
      patchedOf(tensor)?.bytes.length ??
      (tensor.dataLocation === EXTERNAL ? 0 : (tensor.rawData?.length ?? 0));
  }
  const hasExternal = tensors.some((t) => t.dataLocation === EXTERNAL);

  if (inlineBytes <= inlineLimitBytes) {
    const initializer = tensors.map((tensor) => {
      const patched = patchedOf(tensor);
      if (patched === undefined) return tensor;
      return onnx.TensorProto.create({
        name: tensor.name,
        dataType: patched.dataType,
        dims: patched.dims,
        rawData: patched.bytes,
      });
    });
    const options: InferenceSession.SessionOptions = hasExternal
      ? { extra: { session: { model_external_initializers_file_folder_path: weights.dir } } }
      : {};
    return { bytes: withInitializers(weights.model, initializer, patches), options, mode: 'inline' };
  }

  const files: { path: string; data: Uint8Array }[] = [];
  const replaced = new Map<TensorProto, TensorProto>();
  // The patched tensors, packed into in-memory files of their own.
  const patchedRanges: { tensor: TensorProto; patched: PatchedTensor; offset: number; length: number }[] = [];
  let at = 0;
  for (const tensor of tensors) {
    const patched = patchedOf(tensor);
    if (patched === undefined) continue;
    patchedRanges.push({ tensor, patched, offset: at, length: patched.bytes.length });
    at += patched.bytes.length;
  }
  for (const piece of pieces(patchedRanges, chunkBytes)) {
    const path = `easel-patched-${files.length}.bin`;
    const start = piece[0]!.offset;
    const data = new Uint8Array(piece.at(-1)!.offset + piece.at(-1)!.length - start);
    for (const { tensor, patched, offset, length } of piece) {
      data.set(patched.bytes, offset - start);
      replaced.set(
        tensor,
        external(
          onnx.TensorProto.create({ ...tensor, dims: patched.dims, dataType: patched.dataType }),
          path,
          offset - start,
          length,
        ),
      );
    }
    files.push({ path, data });
  }
  // Every other external tensor, read from its file in pieces.
  const byLocation = new Map<string, { tensor: TensorProto; offset: number; length: number }[]>();
  for (const tensor of tensors) {
    if (tensor.dataLocation !== EXTERNAL || patchedOf(tensor) !== undefined) continue;
    const range = weights.initializers.get(tensor.name ?? '')!.external!;
    const list = byLocation.get(range.location) ?? [];
    list.push({ tensor, offset: range.offset, length: range.length });
    byLocation.set(range.location, list);
  }
  for (const [location, ranges] of byLocation) {
    ranges.sort((a, b) => a.offset - b.offset);
    const handle = await open(join(weights.dir, location), 'r');
    try {
      for (const piece of pieces(ranges, chunkBytes)) {
        const path = `easel-data-${files.length}.bin`;
        const start = piece[0]!.offset;
        const data = new Uint8Array(piece.at(-1)!.offset + piece.at(-1)!.length - start);
        await handle.read(data, 0, data.length, start);
        for (const { tensor, offset, length } of piece)
          replaced.set(tensor, external(tensor, path, offset - start, length));
        files.push({ path, data });
      }
    } finally {
      await handle.close();
    }
  }
  const initializer = tensors.map((tensor) => replaced.get(tensor) ?? tensor);
  return {
    bytes: withInitializers(weights.model, initializer, patches),
    options: { externalData: files },
    mode: 'in-memory',
  };
}

/** A session of the patched model, with the caller's options (providers, threads) added. */
export async function createPatchedSession(
  weights: OnnxModelWeights,
  patches: ReadonlyMap<string, PatchedTensor>,
  sessionOptions: InferenceSession.SessionOptions = {},
  patchOptions: PatchOptions = {},
): Promise<InferenceSession> {
  const { bytes, options } = await patchedModel(weights, patches, patchOptions);
  const extra = {
    ...(sessionOptions.extra ?? {}),
    session: {
      ...((sessionOptions.extra?.session as object | undefined) ?? {}),
      ...((options.extra?.session as object | undefined) ?? {}),
    },
  };
  return InferenceSession.create(bytes, { ...sessionOptions, ...options, extra });
}
