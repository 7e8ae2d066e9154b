/**
 * The engine's plain tensor: row-major float32 data and its dimensions. Deliberately minimal (no
 * strides, no dtype) so the schedulers, the pipeline and onnxruntime's `Tensor('float32', data, dims)`
 * exchange data without copies.
 */
export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
}

/** Throws a message naming both shapes when `b` does not have `a`'s shape. */
export function assertSameShape(a: Tensor, b: Tensor, what: string): void {
  if (!sameShape(a, b)) {
    throw new RangeError(`${what}: shapes differ, [${a.dims.join(', ')}] vs [${b.dims.join(', ')}]`);
  }
}
