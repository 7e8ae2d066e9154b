import { type InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import { float32ToHalf, halfToFloat32 } from './float16.ts';

/**
 * Moving float32 data in and out of sessions whose inputs and outputs may be float32, float16
 * (Uint16Array bit patterns), int64, int32 or double, and checking a session's names and shapes
 * against the layout the pipeline expects, with messages that name the part, the tensor and the
 * mismatch.
 */
export interface InputSpec {
  name: string;
  type: OrtTensor.Type;
  /** Numbers are fixed sizes; strings are symbolic (dynamic) dimensions. */
  shape: readonly (number | string)[];
}

export function describeInputs(session: InferenceSession): InputSpec[] {
  return session.inputMetadata.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: m.shape }
      : { name: m.name, type: 'float32', shape: [] },
  );
}

export function requireInput(session: InferenceSession, part: string, name: string): InputSpec {
  const spec = describeInputs(session).find((s) => s.name === name);
  if (spec === undefined) {
    throw new CodedError(
      'model-invalid',
      `${part}/model.onnx has no input "${name}" (inputs: ${session.inputNames.join(', ')}); ` +
        'expected the diffusers/Optimum ONNX layout',
    );
  }
  return spec;
}

export function requireOutput(session: InferenceSession, part: string, names: readonly string[]): string {
  const found = names.find((n) => session.outputNames.includes(n));
  if (found === undefined) {
    throw new CodedError(
      'model-invalid',
      `${part}/model.onnx has no output ${names.map((n) => `"${n}"`).join(' or ')} ` +
        `(outputs: ${session.outputNames.join(', ')})`,
    );
  }
  return found;
}

/** Fails when a fixed dimension of the input disagrees with what the pipeline will feed. */
export function requireDim(
  spec: InputSpec,
  part: string,
  axis: number,
  expected: number,
  meaning: string,
): void {
  const actual = spec.shape[axis];
  if (typeof actual === 'number' && actual !== expected) {
    throw new CodedError(
      'model-invalid',
      `${part}/model.onnx input "${spec.name}" has ${meaning} ${actual}, but the model's other parts need ${expected}`,
    );
  }
}

const FLOAT_TYPES = new Set<OrtTensor.Type>(['float32', 'float16', 'float64']);

export function requireFloat(spec: InputSpec, part: string): void {
  if (!FLOAT_TYPES.has(spec.type)) {
    throw new CodedError(
      'model-invalid',
      `${part}/model.onnx input "${spec.name}" is ${spec.type}; expected float32, float16 or float64`,
    );
  }
}

/** A tensor of the input's dtype holding `values` (fp16 as bit patterns; integers truncated, as numpy casts timesteps). */
export function toInput(
  spec: InputSpec,
  values: Float32Array | readonly number[],
  dims: readonly number[],
): OrtTensor {
  const source = values instanceof Float32Array ? values : Float32Array.from(values);
  switch (spec.type) {
    case 'float32':
      return new OrtTensor('float32', source, dims);
    case 'float16':
      return new OrtTensor('float16', float32ToHalf(source), dims);
    case 'float64':
      return new OrtTensor('float64', Float64Array.from(source), dims);
    case 'int64':
      return new OrtTensor(
        'int64',
        BigInt64Array.from(source, (v) => BigInt(Math.trunc(v))),
        dims,
      );
    case 'int32':
      return new OrtTensor(
        'int32',
        Int32Array.from(source, (v) => Math.trunc(v)),
        dims,
      );
    default:
      throw new CodedError('model-invalid', `input "${spec.name}" has unsupported type ${spec.type}`);
  }
}

/** Input ids (int32 or int64 as the text encoder wants them). */
export function toIdsInput(spec: InputSpec, ids: readonly number[], dims: readonly number[]): OrtTensor {
  if (spec.type === 'int64') return new OrtTensor('int64', BigInt64Array.from(ids, BigInt), dims);
  if (spec.type === 'int32') return new OrtTensor('int32', Int32Array.from(ids), dims);
  throw new CodedError(
    'model-invalid',
    `text_encoder input "${spec.name}" is ${spec.type}; expected int32 or int64`,
  );
}

/** An output as float32, whatever its numeric type. */
function toFloat32(tensor: OrtTensor, part: string, name: string): Float32Array {
  const data = tensor.data;
  if (tensor.type === 'float32') return data as Float32Array;
  if (tensor.type === 'float16') return halfToFloat32(data as Uint16Array);
  if (tensor.type === 'float64') return Float32Array.from(data as Float64Array);
  if (tensor.type === 'bool' || tensor.type === 'uint8') return Float32Array.from(data as Uint8Array);
  throw new CodedError(
    'model-invalid',
    `${part}/model.onnx output "${name}" has unexpected type ${tensor.type}`,
  );
}

export function outputOf(
  result: InferenceSession.ReturnType,
  part: string,
  name: string,
): { data: Float32Array; dims: readonly number[] } {
  const tensor = result[name];
  if (tensor === undefined) throw new CodedError('model-invalid', `${part}/model.onnx produced no "${name}"`);
  return { data: toFloat32(tensor as OrtTensor, part, name), dims: (tensor as OrtTensor).dims };
}

/** Fails when an output's shape is not the one the layout promises (e.g. a VAE of another factor). */
export function expectDims(
  actual: readonly number[],
  expected: readonly number[],
  part: string,
  name: string,
): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new CodedError(
      'model-invalid',
      `${part}/model.onnx output "${name}" has shape [${actual.join(', ')}], expected [${expected.join(', ')}]`,
    );
  }
}

/** Runs a session, turning onnxruntime's errors into a coded error naming the part. */
export async function runPart(
  session: InferenceSession,
  part: string,
  feeds: Record<string, OrtTensor>,
  /**
   * The outputs wanted, when not all: onnxruntime copies every output it is asked for into a new
   * buffer, and an exported text encoder has one per layer (`hidden_states.0` … `.32`, 26 MB a
   * prompt pair for SDXL's second) of which a pipeline reads one or two.
   */
  outputs?: readonly string[],
): Promise<InferenceSession.ReturnType> {
  try {
    return await (outputs === undefined ? session.run(feeds) : session.run(feeds, [...outputs]));
  } catch (error) {
    const message = ((error as Error).message.split('\n')[0] ?? '').slice(0, 300);
    throw new CodedError('model-invalid', `${part}/model.onnx failed to run: ${message}`, { cause: error });
  }
}
