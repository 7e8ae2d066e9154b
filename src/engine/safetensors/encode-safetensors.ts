import { float32ToHalf } from '../float16.ts';

export interface TensorToWrite {
  dtype: 'F32' | 'F16';
  shape: number[];
  values: Float32Array;
}

/**
 * The bytes of a safetensors file holding the given tensors (in the given order), for LoRA and
 * embedding files the tests and the benchmark write.
 */
export function encodeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    const blob =
      tensor.dtype === 'F16'
        ? new Uint8Array(float32ToHalf(tensor.values).buffer)
        : new Uint8Array(tensor.values.buffer, tensor.values.byteOffset, tensor.values.byteLength);
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + blob.length] };
    blobs.push(blob);
    offset += blob.length;
  }
  let json = JSON.stringify(header);
  // The format pads the header with spaces to a multiple of 8 so tensor data stays aligned.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const blob of blobs) {
    out.set(blob, at);
    at += blob.length;
  }
  return out;
}
