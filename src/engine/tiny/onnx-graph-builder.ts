import onnxProto from 'onnx-proto';
import { float32ToHalf } from '../float16.ts';

const { onnx } = onnxProto;

export type TinyElemType = 'float32' | 'float16' | 'int32' | 'int64' | 'bool';
type Dim = number | string;
/** Plain numbers are INT attributes; floats are written `{ float: x }` so 1.0 is not taken for 1. */
type AttributeValue = number | number[] | string | { float: number } | { floats: number[] };

const ELEM: Record<TinyElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** The opset the tiny models target: ReduceMean still takes `axes` as an attribute there. */
const TINY_OPSET = 17;

/**
 * A small builder over onnx-proto for the tiny test models: named inputs and outputs with symbolic
 * dimensions, initializers, and nodes whose outputs get fresh names. Real ONNX bytes come out, so
 * onnxruntime loads them exactly as it loads an exported Stable Diffusion part.
 */
export class OnnxGraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private counter = 0;

  constructor(
    private readonly name: string,
    private readonly producer = 'easel-tiny',
  ) {}

  input(name: string, type: TinyElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: TinyElemType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /**
   * A float32 initializer (stored as raw little-endian bytes). `name` gives it the name an exporter
   * would (Conv weights keep their module's name in Optimum exports); fresh otherwise.
   */
  weight(
    values: Float32Array | number[],
    dims: number[],
    type: 'float32' | 'float16' = 'float32',
    name?: string,
  ): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const raw =
      type === 'float16'
        ? new Uint8Array(float32ToHalf(data).buffer)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return this.initializer(type, dims, raw, name);
  }

  int64s(values: number[]): string {
    return this.initializer(
      'int64',
      [values.length],
      new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
    );
  }

  /**
   * Adds a node; returns the name of its (first) output. `nodeName` names it as an exporter scopes
   * it (`/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul`), which is how a LoRA
   * finds Optimum's anonymous MatMul weights.
   */
  node(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    outputs = 1,
    nodeName?: string,
  ): string {
    const names = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        name: nodeName ?? this.fresh(`${opType}_node`),
        input: inputs,
        output: names,
        attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
      }),
    );
    return names[0]!;
  }

  /** Adds a node writing to a given name (the graph's outputs). */
  nodeTo(
    output: string,
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
  ): void {
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        name: this.fresh(`${opType}_node`),
        input: inputs,
        output: [output],
        attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
      }),
    );
  }

  toBytes(): Uint8Array {
    return this.encode(this.initializers);
  }

  /**
   * The model with its weights in a separate file named `location` (how exporters save models over
   * protobuf's 2 GB limit: `model.onnx_data`, `model.onnx.data`, `weights.pb`): the weights' bytes
   * move there, referenced by offset and length; shapes, scales and other small tensors stay inline,
   * as exporters keep them (onnx's size_threshold; shape inference reads them before external data).
   */
  toExternalFiles(location: string): { onnx: Uint8Array; data: Uint8Array } {
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const external = this.initializers.map((tensor) => {
      const raw = tensor.rawData;
      if (tensor.dataType === onnx.TensorProto.DataType.INT64 || raw.length < 64) return tensor;
      chunks.push(raw);
      const entry = onnx.TensorProto.create({
        name: tensor.name,
        dataType: tensor.dataType,
        dims: tensor.dims,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.length) },
        ],
      });
      offset += raw.length;
      return entry;
    });
    const data = new Uint8Array(offset);
    let at = 0;
    for (const chunk of chunks) {
      data.set(chunk, at);
      at += chunk.length;
    }
    return { onnx: this.encode(external), data };
  }

  private encode(initializers: InstanceType<typeof onnx.TensorProto>[]): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: this.producer,
      opsetImport: [{ domain: '', version: TINY_OPSET }],
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: initializers,
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private initializer(type: TinyElemType, dims: number[], raw: Uint8Array, given?: string): string {
    const name = given ?? this.fresh('w');
    this.initializers.push(onnx.TensorProto.create({ name, dataType: ELEM[type], dims, rawData: raw }));
    return name;
  }

  private fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }
}

function valueInfo(name: string, type: TinyElemType, dims: Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function attribute(name: string, value: AttributeValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value) });
  }
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: value });
  if (typeof value === 'object') {
    if ('float' in value) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value.float });
    return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: value.floats });
  }
  return onnx.AttributeProto.create({ name, type: T.INT, i: value });
}
