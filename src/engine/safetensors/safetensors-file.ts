import { type FileHandle, open } from 'node:fs/promises';
import { CodedError } from '../../errors/coded-error.ts';
import { halfToFloat32 } from '../float16.ts';

/**
 * A safetensors file (8-byte little-endian header length, a JSON header, then the tensors' bytes),
 * read lazily: opening reads and checks only the header, each tensor is read when asked for. LoRA
 * and embedding files come from strangers on the internet, so every claim the header makes is
 * checked against the file before a byte of tensor data is trusted.
 */

/** Bytes per element of every dtype the format defines; a header naming anything else is refused. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The dtypes easel turns into float32 (what LoRA and embedding weights are stored as). */
const READABLE = new Set(['F32', 'F16', 'BF16']);

/** A header this big is not a LoRA's: refused before it is read into memory. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

function invalid(path: string, why: string): CodedError {
  return new CodedError('model-invalid', `${path} is not a valid safetensors file: ${why}`);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly tensors: ReadonlyMap<string, SafetensorsTensor>,
    readonly metadata: Readonly<Record<string, string>>,
    /** Where the tensors' bytes begin: after the length and the header. */
    readonly dataStart: number,
  ) {}

  static async open(path: string, maxHeaderBytes = MAX_HEADER_BYTES): Promise<SafetensorsFile> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size < 8) throw invalid(path, `it has ${size} bytes, fewer than the 8-byte header length`);
      const prefix = new Uint8Array(8);
      await handle.read(prefix, 0, 8, 0);
      const declared = new DataView(prefix.buffer).getBigUint64(0, true);
      if (declared > BigInt(maxHeaderBytes)) {
        throw invalid(path, `its header claims ${declared} bytes, over the ${maxHeaderBytes}-byte limit`);
      }
      const headerBytes = Number(declared);
      if (8 + headerBytes > size) {
        throw invalid(path, `its header claims ${headerBytes} bytes but only ${size - 8} follow the length`);
      }
      const raw = new Uint8Array(headerBytes);
      await handle.read(raw, 0, headerBytes, 8);
      const { tensors, metadata } = parseHeader(path, raw, size - 8 - headerBytes, 8 + headerBytes);
      return new SafetensorsFile(path, handle, tensors, metadata, 8 + headerBytes);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** One tensor's values as float32 (F32, F16 and BF16; other dtypes are refused by name). */
  async readFloat32(name: string): Promise<Float32Array> {
    const tensor = this.tensors.get(name);
    if (tensor === undefined) throw new CodedError('model-invalid', `${this.path} has no tensor "${name}"`);
    if (!READABLE.has(tensor.dtype)) {
      throw new CodedError(
        'model-invalid',
        `${this.path}: tensor "${name}" is ${tensor.dtype}; easel reads F32, F16 and BF16 tensors`,
      );
    }
    const length = tensor.end - tensor.begin;
    const bytes = new Uint8Array(length);
    const { bytesRead } = await this.handle.read(bytes, 0, length, tensor.begin);
    if (bytesRead !== length) throw invalid(this.path, `tensor "${name}" was cut short`);
    if (tensor.dtype === 'F32') return new Float32Array(bytes.buffer);
    const halves = new Uint16Array(bytes.buffer);
    if (tensor.dtype === 'F16') return halfToFloat32(halves);
    // bfloat16 is the top half of a float32.
    const widened = new Uint32Array(halves.length);
    for (let i = 0; i < halves.length; i++) widened[i] = halves[i]! << 16;
    return new Float32Array(widened.buffer);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Reads a file's header and tensors, closing it whatever happens. */
export async function withSafetensors<T>(
  path: string,
  use: (file: SafetensorsFile) => Promise<T>,
): Promise<T> {
  const file = await SafetensorsFile.open(path);
  try {
    return await use(file);
  } finally {
    await file.close();
  }
}

function parseHeader(
  path: string,
  raw: Uint8Array,
  dataBytes: number,
  dataStart: number,
): { tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (error) {
    throw invalid(path, `its header is not JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw invalid(path, 'its header is not a JSON object');
  }
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
    if (typeof dtype !== 'string' || DTYPE_BYTES[dtype] === undefined) {
      throw invalid(
        path,
        `tensor "${name}" has dtype ${JSON.stringify(dtype)}, which safetensors does not define`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw invalid(path, `tensor "${name}" has no valid shape`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw invalid(path, `tensor "${name}" has no valid data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataBytes) {
      throw invalid(
        path,
        `tensor "${name}" lies at bytes ${begin}-${end}, outside the ${dataBytes} data bytes`,
      );
    }
    const expected = shape.reduce((a: number, b: number) => a * b, 1) * DTYPE_BYTES[dtype]!;
    if (end - begin !== expected) {
      throw invalid(
        path,
        `tensor "${name}" is ${dtype}[${shape.join(', ')}] (${expected} bytes) but holds ${end - begin} bytes`,
      );
    }
    tensors.set(name, { name, dtype, shape, begin: dataStart + begin, end: dataStart + end });
  }
  const ordered = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < ordered.length; i++) {
    const previous = ordered[i - 1]!;
    const current = ordered[i]!;
    if (current.begin < previous.end) {
      throw invalid(path, `tensors "${previous.name}" and "${current.name}" overlap`);
    }
  }
  return { tensors, metadata };
}
