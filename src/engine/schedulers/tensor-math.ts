import { assertSameShape, type Tensor } from './tensor.ts';

/**
 * Element-wise arithmetic the schedulers need. Each result element is computed in float64 and
 * rounded to float32 once when stored, which is at least as precise as torch's float32 kernels.
 */

/** `sum_i coef_i * tensor_i`, all tensors of one shape, accumulated in float64 and rounded once. */
export function linearCombination(terms: ReadonlyArray<readonly [number, Tensor]>): Tensor {
  const first = terms[0];
  if (first === undefined) throw new RangeError('linearCombination needs at least one term');
  const shapeOf = first[1];
  const acc = new Float64Array(shapeOf.data.length);
  for (const [c, t] of terms) {
    assertSameShape(shapeOf, t, 'linearCombination');
    const d = t.data;
    for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) + c * (d[i] as number);
  }
  return { data: Float32Array.from(acc), dims: [...shapeOf.dims] };
}

/** `s * x`. */
export function scale(x: Tensor, s: number): Tensor {
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = s * (x.data[i] as number);
  return { data: out, dims: [...x.dims] };
}

/** Element-wise clamp to `[min, max]`. */
export function clamp(x: Tensor, min: number, max: number): Tensor {
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = x.data[i] as number;
    out[i] = v < min ? min : v > max ? max : v;
  }
  return { data: out, dims: [...x.dims] };
}

/** A tensor of `like`'s shape over `data`, checking the length (for caller-supplied noise). */
export function likeShape(like: Tensor, data: Float32Array, what: string): Tensor {
  if (data.length !== like.data.length) {
    throw new RangeError(
      `${what}: expected ${like.data.length} values for shape [${like.dims.join(', ')}], got ${data.length}`,
    );
  }
  return { data, dims: [...like.dims] };
}
