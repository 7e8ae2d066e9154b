/**
 * The engine's plain tensor: row-major float32 data and its dimensions. Deliberately minimal (no
 * strides, no dtype) so the schedulers, the pipeline and onnxruntime's `Tensor('float32', data, dims)`
 * exchange data without copies.
 */
export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

/** Number of elements a tensor of these dimensions holds. */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`tensor dimension must be a whole number >= 0, got ${d}`);
    count *= d;
  }
  return count;
}

/** A tensor over `data` (not copied); throws when the data length does not match the dimensions. */
export function tensor(data: Float32Array, dims: readonly number[]): Tensor {
  const expected = elementCount(dims);
  if (data.length !== expected) {
    throw new RangeError(
      `tensor data has ${data.length} elements but dims [${dims.join(', ')}] need ${expected}`,
    );
  }
  return { data, dims: [...dims] };
}

export function zeros(dims: readonly number[]): Tensor {
  return { data: new Float32Array(elementCount(dims)), dims: [...dims] };
}

export function sameShape(a: Tensor, b: Tensor): boolean {
  return a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
}

/** Throws a message naming both shapes when `b` does not have `a`'s shape. */
export function assertSameShape(a: Tensor, b: Tensor, what: string): void {
  if (!sameShape(a, b)) {
    throw new RangeError(`${what}: shapes differ, [${a.dims.join(', ')}] vs [${b.dims.join(', ')}]`);
  }
}
