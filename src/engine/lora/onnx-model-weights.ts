import { open, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import onnxProto from 'onnx-proto';
import { CodedError } from '../../errors/coded-error.ts';
import { float32ToHalf, halfToFloat32 } from '../float16.ts';

const { onnx } = onnxProto;
export type ModelProto = InstanceType<typeof onnx.ModelProto>;
export type TensorProto = onnxProto.onnx.ITensorProto;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

/** Where an initializer's bytes are: in the model file, or a range of an external data file. */
export interface ExternalRange {
  /** Relative to the model's folder, as the model names it. */
  location: string;
  offset: number;
  length: number;
}

export interface Initializer {
  name: string;
  dataType: number;
  dims: number[];
  external?: ExternalRange;
}

/**
 * How a module's weight is laid out: `in-out` for the anonymous transposed MatMul initializers
 * Optimum writes for Linear layers, `out-in` for a Gemm with transB (a Linear on 2-D input), `conv`
 * for a Conv's [out, in, kh, kw].
 */
export type WeightLayout = 'in-out' | 'out-in' | 'conv';

export interface ModuleWeight {
  /** The diffusers/transformers module path, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
  module: string;
  initializer: string;
  layout: WeightLayout;
}

/** A replacement for one initializer: new bytes, possibly new dims (a longer embedding table). */
export interface PatchedTensor {
  dataType: number;
  dims: number[];
  bytes: Uint8Array;
}

function elementBytes(dataType: number): number {
  if (dataType === FLOAT) return 4;
  if (dataType === FLOAT16) return 2;
  throw new CodedError(
    'model-invalid',
    `weights of ONNX data type ${onnx.TensorProto.DataType[dataType] ?? dataType} cannot be patched (float32 and float16 can)`,
  );
}

/** The module a scoped node name belongs to: `/a.0/b/to_q/MatMul` is `a.0.b.to_q`. */
function scopeModule(nodeName: string): string | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const parts = nodeName.slice(1).split('/');
  return parts.length > 1 ? parts.slice(0, -1).join('.') : undefined;
}

/**
 * The weights of one ONNX model (a UNet or text encoder of an Optimum export) found by the module
 * they belong to. The graph is decoded once; tensor bytes are read only when a LoRA patches them.
 */
export class OnnxModelWeights {
  readonly initializers = new Map<string, Initializer>();
  readonly modules = new Map<string, ModuleWeight>();
  /** Module paths with dots turned into underscores, as kohya names them, to the path. */
  readonly flatModules = new Map<string, string>();
  private readonly inline = new Map<string, TensorProto>();

  private constructor(
    readonly path: string,
    readonly model: ModelProto,
  ) {
    const graph = model.graph;
    if (!graph) throw new CodedError('model-invalid', `${path} has no graph`);
    for (const tensor of graph.initializer ?? []) {
      const initializer: Initializer = {
        name: tensor.name ?? '',
        dataType: tensor.dataType ?? 0,
        dims: (tensor.dims ?? []).map(Number),
      };
      if (tensor.dataLocation === EXTERNAL) initializer.external = externalRange(path, tensor);
      else this.inline.set(initializer.name, tensor);
      this.initializers.set(initializer.name, initializer);
    }
    const uses = new Map<string, number>();
    for (const node of graph.node ?? [])
      for (const input of node.input ?? []) uses.set(input, (uses.get(input) ?? 0) + 1);
    for (const node of graph.node ?? []) {
      const weight = node.input?.[1];
      if (weight === undefined || !this.initializers.has(weight) || uses.get(weight) !== 1) continue;
      const dims = this.initializers.get(weight)!.dims;
      let layout: WeightLayout | undefined;
      if (node.opType === 'MatMul' && dims.length === 2) layout = 'in-out';
      else if (node.opType === 'Gemm' && dims.length === 2) {
        const transB = node.attribute?.find((a) => a.name === 'transB');
        layout = Number(transB?.i ?? 0) === 1 ? 'out-in' : 'in-out';
      } else if (node.opType === 'Conv' && dims.length === 4) layout = 'conv';
      if (layout === undefined) continue;
      const module = weight.endsWith('.weight')
        ? weight.slice(0, -'.weight'.length)
        : scopeModule(node.name ?? '');
      if (module === undefined) continue;
      this.modules.set(module, { module, initializer: weight, layout });
      this.flatModules.set(module.replaceAll('.', '_'), module);
    }
  }

  static async load(path: string): Promise<OnnxModelWeights> {
    let model: ModelProto;
    try {
      model = onnx.ModelProto.decode(await readFile(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new CodedError('model-missing', `${path} does not exist`);
      throw new CodedError('model-invalid', `${path} is not an ONNX model: ${(error as Error).message}`);
    }
    return new OnnxModelWeights(path, model);
  }

  get dir(): string {
    return dirname(this.path);
  }

  /** The bytes every initializer takes, what a session of this model holds in memory. */
  totalWeightBytes(): number {
    let total = 0;
    for (const initializer of this.initializers.values()) {
      total += initializer.dims.reduce((a, b) => a * b, 1) * storedBytes(initializer.dataType);
    }
    return total;
  }

  /** The decoded tensor of an initializer kept in the model file, if it is kept there. */
  inlineTensor(name: string): TensorProto | undefined {
    return this.inline.get(name);
  }

  /** An initializer's values as float32, read from the model or its external data file. */
  async readFloat32(name: string): Promise<Float32Array> {
    const initializer = this.initializers.get(name);
    if (initializer === undefined)
      throw new CodedError('model-invalid', `${this.path} has no initializer ${name}`);
    elementBytes(initializer.dataType);
    const count = initializer.dims.reduce((a, b) => a * b, 1);
    const bytes = await this.readBytes(initializer);
    if (bytes.length === 0) {
      // Values kept in the typed fields rather than raw_data (float16 bit patterns sit in int32_data).
      const tensor = this.inline.get(name)!;
      if (initializer.dataType === FLOAT)
        return checkCount(this.path, name, Float32Array.from(tensor.floatData ?? []), count);
      return checkCount(this.path, name, halfToFloat32(Uint16Array.from(tensor.int32Data ?? [])), count);
    }
    const copy = new Uint8Array(bytes);
    const values =
      initializer.dataType === FLOAT
        ? new Float32Array(copy.buffer)
        : halfToFloat32(new Uint16Array(copy.buffer));
    return checkCount(this.path, name, values, count);
  }

  private async readBytes(initializer: Initializer): Promise<Uint8Array> {
    const { external } = initializer;
    if (external === undefined) return this.inline.get(initializer.name)?.rawData ?? new Uint8Array(0);
    const handle = await open(join(this.dir, external.location), 'r');
    try {
      const bytes = new Uint8Array(external.length);
      const { bytesRead } = await handle.read(bytes, 0, external.length, external.offset);
      if (bytesRead !== external.length) {
        throw new CodedError('model-invalid', `${external.location} ends before ${initializer.name}'s bytes`);
      }
      return bytes;
    } finally {
      await handle.close();
    }
  }
}

function checkCount(path: string, name: string, values: Float32Array, count: number): Float32Array {
  if (values.length !== count) {
    throw new CodedError(
      'model-invalid',
      `${path}: initializer ${name} holds ${values.length} values, its dims say ${count}`,
    );
  }
  return values;
}

function externalRange(path: string, tensor: TensorProto): ExternalRange {
  const entries = new Map((tensor.externalData ?? []).map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (!location || isAbsolute(location) || normalize(location).startsWith('..')) {
    throw new CodedError(
      'model-invalid',
      `${path}: initializer ${tensor.name} has external data outside the model's folder`,
    );
  }
  const dims = (tensor.dims ?? []).map(Number);
  const length =
    entries.get('length') !== undefined
      ? Number(entries.get('length'))
      : dims.reduce((a, b) => a * b, 1) * storedBytes(tensor.dataType ?? 0);
  return { location, offset: Number(entries.get('offset') ?? 0), length };
}

/** Bytes per element of ONNX's fixed-size data types, by `TensorProto.DataType` number. */
const STORED_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  16: 2,
};

function storedBytes(dataType: number): number {
  return STORED_BYTES[dataType] ?? 1;
}

/** A float32 array as the bytes of a tensor of the given data type. */
export function encodeFloats(values: Float32Array, dataType: number): Uint8Array {
  if (dataType === FLOAT) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const halves = float32ToHalf(values);
  return new Uint8Array(halves.buffer);
}
