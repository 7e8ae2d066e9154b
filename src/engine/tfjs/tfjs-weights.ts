import { CodedError } from '../../errors/coded-error.ts';
import { halfToFloat32 } from '../float16.ts';
import type { TfjsModelFiles } from './tfjs-model-files.ts';

export interface NamedWeight {
  shape: number[];
  values: Float32Array;
}

const BYTES: Record<string, number> = { float32: 4, float16: 2, uint16: 2, uint8: 1 };

/**
 * Splits the concatenated shards into named float32 tensors the way TF.js's `io.decodeWeights` does:
 * in manifest order, each weight taking `prod(shape)` elements of its stored type; `uint8`/`uint16`
 * quantized weights are `q * scale + min`, `float16` ones are half floats. Anything else, or shards
 * whose size disagrees with the manifest (a truncated or corrupted file), is refused.
 */
export function decodeTfjsWeights(files: TfjsModelFiles, what: string): Map<string, NamedWeight> {
  const data = files.weightData;
  const out = new Map<string, NamedWeight>();
  let offset = 0;
  for (const group of files.modelJson.weightsManifest) {
    for (const spec of group.weights) {
      if (spec.dtype !== 'float32') {
        throw new CodedError(
          'model-invalid',
          `${what}: weight ${spec.name} is ${spec.dtype}; only float32 weights are supported`,
        );
      }
      const stored = spec.quantization?.dtype ?? 'float32';
      const width = BYTES[stored];
      if (width === undefined || (stored === 'float32' && spec.quantization !== undefined)) {
        throw new CodedError(
          'model-invalid',
          `${what}: weight ${spec.name} uses unsupported quantization ${stored}`,
        );
      }
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const bytes = count * width;
      if (offset + bytes > data.length) {
        throw new CodedError(
          'model-invalid',
          `${what}: the weight shards hold ${data.length} bytes but the manifest needs more (at ${spec.name}); the files are truncated or corrupted`,
        );
      }
      // Copy first: shard bytes need not be aligned for typed-array views.
      const slice = new Uint8Array(bytes);
      slice.set(data.subarray(offset, offset + bytes));
      offset += bytes;
      out.set(spec.name, { shape: spec.shape, values: dequantize(slice, stored, spec, what) });
    }
  }
  if (offset !== data.length) {
    throw new CodedError(
      'model-invalid',
      `${what}: the weight shards hold ${data.length} bytes but the manifest describes ${offset}; the files are corrupted`,
    );
  }
  return out;
}

function dequantize(
  raw: Uint8Array,
  stored: string,
  spec: { name: string; quantization?: { min?: number; scale?: number } },
  what: string,
): Float32Array {
  if (stored === 'float32') return new Float32Array(raw.buffer);
  if (stored === 'float16') return halfToFloat32(new Uint16Array(raw.buffer));
  const { min, scale } = spec.quantization ?? {};
  if (typeof min !== 'number' || typeof scale !== 'number') {
    throw new CodedError('model-invalid', `${what}: quantized weight ${spec.name} has no min and scale`);
  }
  const q = stored === 'uint8' ? raw : new Uint16Array(raw.buffer);
  const values = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) values[i] = q[i]! * scale + min;
  return values;
}
