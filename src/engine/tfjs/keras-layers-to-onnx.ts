import { CodedError } from '../../errors/coded-error.ts';
import { OnnxGraphBuilder } from '../tiny/onnx-graph-builder.ts';
import type { NamedWeight } from './tfjs-weights.ts';

/** How the ONNX graph meets its caller: names, layout, and a scale applied on the way in and out. */
export interface GraphEnds {
  input: { name: string; layout: 'NHWC' | 'NCHW'; dims: (number | string)[] };
  output: { name: string; dims: (number | string)[] };
  /** Multiplies the input first (an upscaler trained on 0-255 fed 0-1 pixels: 255). */
  inputScale?: number;
  /** Multiplies the output last (the same upscaler: 1/255). */
  outputScale?: number;
}

interface KerasLayer {
  class_name: string;
  name?: string;
  config: Record<string, unknown> & { name?: string };
  inbound_nodes: unknown[];
}

/** A value of the graph being built: its ONNX name and rank (4: NCHW inside the graph; 2: [N, C]). */
interface Value {
  name: string;
  rank: number;
  /** How far (in input pixels) the value at a position sees around it; tiles need that much context. */
  reach?: number;
  /** Output pixels per input pixel so far (upsampling multiplies it). */
  scale?: number;
}

export interface ConvertedGraph {
  bytes: Uint8Array;
  /** The network's receptive radius in input pixels: the overlap tiles need to join without seams. */
  receptiveRadius: number;
}

/** Layers the converter knows; `refuseUnknownLayers` names any other one. */
export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Conv2D',
  'DepthwiseConv2D',
  'BatchNormalization',
  'ReLU',
  'Activation',
  'Add',
  'Concatenate',
  'ZeroPadding2D',
  'AveragePooling2D',
  'Flatten',
  'Dense',
  'Dropout',
  'UpSampling2D',
  'MultiplyBeta',
  'PixelShuffle<N>x',
] as const;

/**
 * Converts a TF.js layers model (a Keras functional model: `modelTopology.model_config`) into an ONNX
 * graph that computes the same function, for the layers and options the nsfwjs and UpscalerJS
 * models use. Keras works channels-last; ONNX convolutions are channels-first, so the graph
 * transposes once at its input (when the caller feeds NHWC) and keeps NCHW inside: kernels are
 * re-laid-out at conversion time, and axis arguments are mapped. Any layer, option or weight the
 * converter does not know is refused with its name, never skipped.
 */
export function kerasLayersToOnnx(
  topology: unknown,
  weights: Map<string, NamedWeight>,
  ends: GraphEnds,
  what: string,
): ConvertedGraph {
  const config = modelConfig(topology, what);
  const g = new OnnxGraphBuilder(config.name ?? 'model', 'easel-tfjs-converter');
  const values = new Map<string, Value>();
  const used = new Set<string>();
  const fail = (layer: KerasLayer | undefined, message: string): never => {
    const where = layer ? `layer "${layerName(layer)}" (${layer.class_name})` : 'the model';
    throw new CodedError('model-invalid', `${what}: ${where}: ${message}`);
  };
  const weight = (layer: KerasLayer, param: string): NamedWeight => {
    const key = `${layerName(layer)}/${param}`;
    const found = weights.get(key);
    if (found === undefined) fail(layer, `weight ${key} is missing from the weight shards`);
    used.add(key);
    return found as NamedWeight;
  };

  const inputNames = (config.input_layers ?? []).map((ref) => String((ref as unknown[])[0]));
  const outputNames = (config.output_layers ?? []).map((ref) => String((ref as unknown[])[0]));
  if (inputNames.length !== 1 || outputNames.length !== 1) {
    fail(
      undefined,
      `expected one input and one output layer (found ${inputNames.length} and ${outputNames.length})`,
    );
  }

  for (const layer of config.layers) {
    const c = layer.config;
    if (c.data_format !== undefined && c.data_format !== 'channels_last') {
      fail(layer, `data_format ${String(c.data_format)} is not supported (only channels_last)`);
    }
    if (c.dtype !== undefined && c.dtype !== 'float32')
      fail(layer, `dtype ${String(c.dtype)} is not supported`);
    const inputs = inboundValues(layer, values, fail);
    const one = (): Value => {
      if (inputs.length !== 1) fail(layer, `expected one input, got ${inputs.length}`);
      return inputs[0]!;
    };
    const four = (): Value => {
      const x = one();
      if (x.rank !== 4) fail(layer, `expects an image tensor (rank 4), got rank ${x.rank}`);
      return x;
    };
    let out: Value;
    const className = layer.class_name;
    switch (className) {
      case 'InputLayer': {
        const shape = (c.batch_input_shape ?? c.batch_shape) as unknown[] | undefined;
        if (!Array.isArray(shape) || shape.length !== 4)
          fail(layer, 'expects an image input [batch, height, width, channels]');
        let x = g.input(ends.input.name, 'float32', ends.input.dims);
        if (ends.input.layout === 'NHWC') x = g.node('Transpose', [x], { perm: [0, 3, 1, 2] });
        if (ends.inputScale !== undefined) x = g.node('Mul', [x, g.weight([ends.inputScale], [])]);
        out = { name: x, rank: 4 };
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const x = four();
        const depthwise = className === 'DepthwiseConv2D';
        if (!depthwise && c.groups !== undefined && c.groups !== 1)
          fail(layer, `groups ${String(c.groups)} is not supported`);
        const kernel = weight(layer, depthwise ? 'depthwise_kernel' : 'kernel');
        const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
        if (kernel.shape.length !== 4) fail(layer, `kernel has shape [${kernel.shape.join(', ')}]`);
        // Keras [kh, kw, in, out] -> ONNX [out, in, kh, kw]; depthwise [kh, kw, C, M] -> [C*M, 1, kh, kw],
        // output channel c*M + m as TF orders it.
        const outChannels = depthwise ? cin * cout : cout;
        const perOut = depthwise ? 1 : cin;
        const w = new Float32Array(outChannels * perOut * kh * kw);
        for (let y = 0; y < kh; y++)
          for (let xk = 0; xk < kw; xk++)
            for (let i = 0; i < cin; i++)
              for (let o = 0; o < cout; o++) {
                const src = ((y * kw + xk) * cin + i) * cout + o;
                const oc = depthwise ? i * cout + o : o;
                const ic = depthwise ? 0 : i;
                w[((oc * perOut + ic) * kh + y) * kw + xk] = kernel.values[src]!;
              }
        const convInputs = [x.name, g.weight(w, [outChannels, perOut, kh, kw])];
        if (c.use_bias === true) {
          const bias = weight(layer, 'bias');
          if (bias.values.length !== outChannels)
            fail(layer, `bias has ${bias.values.length} values for ${outChannels} channels`);
          convInputs.push(g.weight(bias.values, [outChannels]));
        }
        const attributes: Record<string, number | number[] | string> = {
          kernel_shape: [kh, kw],
          strides: pair(c.strides, layer, 'strides', fail),
          dilations: pair(c.dilation_rate ?? [1, 1], layer, 'dilation_rate', fail),
        };
        if (depthwise) {
          attributes.group = cin;
          if (c.depth_multiplier !== undefined && c.depth_multiplier !== cout)
            fail(layer, 'depth_multiplier disagrees with the kernel');
        }
        Object.assign(attributes, padding(c.padding, layer, fail));
        out = activation(
          g,
          { name: g.node('Conv', convInputs, attributes), rank: 4 },
          c.activation,
          layer,
          fail,
        );
        break;
      }
      case 'BatchNormalization': {
        const x = one();
        const axis =
          c.axis === undefined ? -1 : Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis;
        if (axis !== -1 && axis !== x.rank - 1)
          fail(layer, `axis ${JSON.stringify(c.axis)} is not supported (only the channel axis)`);
        const mean = weight(layer, 'moving_mean');
        const variance = weight(layer, 'moving_variance');
        const n = mean.values.length;
        const gamma = c.scale === false ? new Float32Array(n).fill(1) : weight(layer, 'gamma').values;
        const beta = c.center === false ? new Float32Array(n) : weight(layer, 'beta').values;
        out = {
          name: g.node(
            'BatchNormalization',
            [
              x.name,
              g.weight(gamma, [n]),
              g.weight(beta, [n]),
              g.weight(mean.values, [n]),
              g.weight(variance.values, [n]),
            ],
            { epsilon: { float: Number(c.epsilon ?? 0.001) } },
          ),
          rank: x.rank,
        };
        break;
      }
      case 'ReLU': {
        const x = one();
        if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) {
          fail(layer, 'negative_slope and threshold other than 0 are not supported');
        }
        out =
          c.max_value === null || c.max_value === undefined
            ? { name: g.node('Relu', [x.name]), rank: x.rank }
            : {
                name: g.node('Clip', [x.name, g.weight([0], []), g.weight([Number(c.max_value)], [])]),
                rank: x.rank,
              };
        break;
      }
      case 'Activation':
        out = activation(g, one(), c.activation, layer, fail);
        break;
      case 'Add': {
        if (inputs.length < 2) fail(layer, 'needs at least two inputs');
        let sum = inputs[0]!.name;
        for (const v of inputs.slice(1)) sum = g.node('Add', [sum, v.name]);
        out = { name: sum, rank: inputs[0]!.rank };
        break;
      }
      case 'Concatenate': {
        const rank = inputs[0]?.rank ?? 0;
        if (inputs.length < 2 || inputs.some((v) => v.rank !== rank))
          fail(layer, 'needs two or more inputs of one rank');
        out = {
          name: g.node(
            'Concat',
            inputs.map((v) => v.name),
            { axis: onnxAxis(Number(c.axis ?? -1), rank, layer, fail) },
          ),
          rank,
        };
        break;
      }
      case 'ZeroPadding2D': {
        const x = four();
        const [[top, bottom], [left, right]] = paddingPairs(c.padding, layer, fail);
        out = {
          name: g.node('Pad', [x.name, g.int64s([0, 0, top, left, 0, 0, bottom, right])], {
            mode: 'constant',
          }),
          rank: 4,
        };
        break;
      }
      case 'AveragePooling2D': {
        const x = four();
        const kernel = pair(c.pool_size, layer, 'pool_size', fail);
        const attributes: Record<string, number | number[] | string> = {
          kernel_shape: kernel,
          strides:
            c.strides === null || c.strides === undefined ? kernel : pair(c.strides, layer, 'strides', fail),
          // TF averages over the real pixels only where 'same' padding reaches past the edge.
          count_include_pad: 0,
        };
        Object.assign(attributes, padding(c.padding, layer, fail));
        out = { name: g.node('AveragePool', [x.name], attributes), rank: 4 };
        break;
      }
      case 'Flatten': {
        const x = one();
        // Keras flattens channels-last: back to NHWC first so the order of the features is Keras's.
        const nhwc = x.rank === 4 ? g.node('Transpose', [x.name], { perm: [0, 2, 3, 1] }) : x.name;
        out = { name: g.node('Flatten', [nhwc], { axis: 1 }), rank: 2 };
        break;
      }
      case 'Dense': {
        const x = one();
        if (x.rank !== 2) fail(layer, `expects a flat input (rank 2), got rank ${x.rank}`);
        const kernel = weight(layer, 'kernel');
        let y = g.node('MatMul', [x.name, g.weight(kernel.values, kernel.shape)]);
        if (c.use_bias === true) {
          const bias = weight(layer, 'bias');
          y = g.node('Add', [y, g.weight(bias.values, bias.shape)]);
        }
        out = activation(g, { name: y, rank: 2 }, c.activation, layer, fail);
        break;
      }
      case 'Dropout':
        // Inference: dropout passes its input through.
        out = one();
        break;
      case 'UpSampling2D': {
        const x = four();
        if ((c.interpolation ?? 'nearest') !== 'nearest')
          fail(layer, `interpolation ${String(c.interpolation)} is not supported`);
        const [sh, sw] = pair(c.size, layer, 'size', fail);
        // Integer nearest-neighbour upsampling repeats each pixel; 'asymmetric' + 'floor' is exactly that.
        out = {
          name: g.node('Resize', [x.name, '', g.weight([1, 1, sh, sw], [4])], {
            mode: 'nearest',
            coordinate_transformation_mode: 'asymmetric',
            nearest_mode: 'floor',
          }),
          rank: 4,
        };
        break;
      }
      case 'MultiplyBeta': {
        // UpscalerJS's custom layer: multiplies by its constant 0.2 (it ignores the config's beta).
        if (c.beta !== undefined && c.beta !== 0.2)
          fail(layer, `beta ${String(c.beta)} differs from UpscalerJS's 0.2`);
        const x = one();
        out = { name: g.node('Mul', [x.name, g.weight([0.2], [])]), rank: x.rank };
        break;
      }
      default: {
        const shuffle = /^PixelShuffle(\d+)x$/.exec(className);
        if (shuffle === null) {
          fail(
            layer,
            `unknown layer class ${className}; the converter supports ${SUPPORTED_LAYERS.join(', ')}`,
          );
        }
        // UpscalerJS's custom layer is tf.depthToSpace(x, scale, 'NHWC'): ONNX DepthToSpace in DCR order.
        out = {
          name: g.node('DepthToSpace', [four().name], { blocksize: Number(shuffle![1]), mode: 'DCR' }),
          rank: 4,
        };
      }
    }
    values.set(layerName(layer), withReach(out!, inputs, layer));
  }

  const unused = [...weights.keys()].filter((k) => !used.has(k));
  if (unused.length > 0) fail(undefined, `weights no layer uses: ${unused.slice(0, 5).join(', ')}`);

  const last = values.get(outputNames[0]!);
  if (last === undefined) fail(undefined, `output layer ${outputNames[0]} was never computed`);
  let y = last!.name;
  if (ends.outputScale !== undefined) y = g.node('Mul', [y, g.weight([ends.outputScale], [])]);
  g.nodeTo(ends.output.name, 'Identity', [y]);
  g.output(ends.output.name, 'float32', ends.output.dims);
  return { bytes: g.toBytes(), receptiveRadius: Math.ceil(last!.reach ?? 0) };
}

/** Carries the receptive radius through a layer: a k x k window adds (k-1)/2 x dilation output pixels. */
function withReach(out: Value, inputs: Value[], layer: KerasLayer): Value {
  const reach = Math.max(0, ...inputs.map((v) => v.reach ?? 0));
  const scale = Math.max(1, ...inputs.map((v) => v.scale ?? 1));
  const c = layer.config;
  let added = 0;
  let factor = 1;
  const window = (c.kernel_size ?? c.pool_size) as number[] | number | undefined;
  if (window !== undefined) {
    const k = Math.max(...(Array.isArray(window) ? window : [window]));
    const d = Math.max(...(Array.isArray(c.dilation_rate) ? (c.dilation_rate as number[]) : [1]));
    added = ((k - 1) / 2) * d;
  }
  if (layer.class_name === 'ZeroPadding2D') added = 0;
  if (layer.class_name === 'UpSampling2D') factor = Math.max(...pairOr(c.size));
  const shuffle = /^PixelShuffle(\d+)x$/.exec(layer.class_name);
  if (shuffle !== null) factor = Number(shuffle[1]);
  return { ...out, reach: reach + added / scale, scale: scale * factor };
}

function pairOr(value: unknown): number[] {
  return Array.isArray(value) ? (value as number[]) : [Number(value ?? 1)];
}

type Fail = (layer: KerasLayer | undefined, message: string) => never;

function modelConfig(
  topology: unknown,
  what: string,
): { name?: string; layers: KerasLayer[]; input_layers?: unknown[]; output_layers?: unknown[] } {
  const t = topology as { model_config?: { class_name?: string; config?: unknown } } | undefined;
  const mc = t?.model_config;
  if (mc === undefined || !['Model', 'Functional'].includes(String(mc.class_name))) {
    throw new CodedError(
      'model-invalid',
      `${what}: model.json is not a Keras functional layers model (model_config.class_name ${String(mc?.class_name)})`,
    );
  }
  const config = mc.config as { layers?: unknown };
  if (!Array.isArray(config?.layers))
    throw new CodedError('model-invalid', `${what}: model.json has no layers`);
  return config as { layers: KerasLayer[] };
}

function layerName(layer: KerasLayer): string {
  return String(layer.config.name ?? layer.name);
}

function inboundValues(layer: KerasLayer, values: Map<string, Value>, fail: Fail): Value[] {
  const nodes = layer.inbound_nodes;
  if (!Array.isArray(nodes)) fail(layer, 'inbound_nodes is malformed');
  if (nodes.length === 0) return [];
  if (nodes.length > 1) fail(layer, 'is called more than once (shared layers are not supported)');
  const refs = nodes[0];
  if (!Array.isArray(refs)) fail(layer, 'inbound_nodes is malformed');
  return (refs as unknown[]).map((ref) => {
    const [name, nodeIndex, tensorIndex, kwargs] = ref as [string, number, number, Record<string, unknown>?];
    if (nodeIndex !== 0 || tensorIndex !== 0 || (kwargs !== undefined && Object.keys(kwargs).length > 0)) {
      fail(
        layer,
        `input ${JSON.stringify(ref)} is not supported (only the first output of single-call layers)`,
      );
    }
    const value = values.get(String(name));
    if (value === undefined) fail(layer, `input layer ${String(name)} comes later or does not exist`);
    return value!;
  });
}

function pair(value: unknown, layer: KerasLayer, field: string, fail: Fail): [number, number] {
  const v = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n) && n > 0)) {
    fail(layer, `${field} ${JSON.stringify(value)} is not a pair of positive integers`);
  }
  return v as [number, number];
}

/** TF's 'same' pads the extra pixel at the end (bottom, right): ONNX's SAME_UPPER. */
function padding(value: unknown, layer: KerasLayer, fail: Fail): Record<string, string | number[]> {
  if (value === 'valid') return { pads: [0, 0, 0, 0] };
  if (value === 'same') return { auto_pad: 'SAME_UPPER' };
  return fail(layer, `padding ${JSON.stringify(value)} is not supported (only valid and same)`);
}

function paddingPairs(value: unknown, layer: KerasLayer, fail: Fail): [[number, number], [number, number]] {
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
  if (ok(value))
    return [
      [value as number, value as number],
      [value as number, value as number],
    ];
  if (Array.isArray(value) && value.length === 2) {
    if (value.every(ok))
      return [
        [value[0], value[0]],
        [value[1], value[1]],
      ];
    if (value.every((p) => Array.isArray(p) && p.length === 2 && p.every(ok))) {
      return value as [[number, number], [number, number]];
    }
  }
  return fail(layer, `padding ${JSON.stringify(value)} is malformed`);
}

/** A channels-last Keras axis as an axis of the NCHW (rank 4) or [N, C] (rank 2) value. */
function onnxAxis(axis: number, rank: number, layer: KerasLayer, fail: Fail): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(layer, `axis ${axis} is out of range`);
  return rank === 4 ? ([0, 2, 3, 1][a] as number) : a;
}

function activation(g: OnnxGraphBuilder, x: Value, name: unknown, layer: KerasLayer, fail: Fail): Value {
  switch (name ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return { name: g.node('Relu', [x.name]), rank: x.rank };
    case 'sigmoid':
      return { name: g.node('Sigmoid', [x.name]), rank: x.rank };
    case 'softmax':
      // Keras's softmax runs over the last (channels) axis.
      return { name: g.node('Softmax', [x.name], { axis: x.rank === 4 ? 1 : -1 }), rank: x.rank };
    default:
      return fail(layer, `activation ${String(name)} is not supported`);
  }
}
