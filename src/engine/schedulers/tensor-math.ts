import { combineInto, scaleInto } from '../kernels/kernels.ts';
import { assertSameShape, type Tensor } from './tensor.ts';

/**
 * Element-wise arithmetic the schedulers need. Each result element is computed in float64 and
 * rounded to float32 once when stored, which is at least as precise as torch's float32 kernels.
 */

/** `sum_i coef_i * tensor_i`, all tensors of one shape, accumulated in float64 and rounded once. */
export function linearCombination(
  terms: ReadonlyArray<readonly [number, Tensor]>,
  /** Where to write the result (StepOptions.into), instead of a new buffer. */
  into?: Float32Array,
): Tensor {
  const first = terms[0];
  if (first === undefined) throw new RangeError('linearCombination needs at least one term');
  const shapeOf = first[1];
  for (const [, t] of terms) assertSameShape(shapeOf, t, 'linearCombination');
  // Summed in float64 (JS numbers) in term order and rounded once to float32, as accumulating term
  // by term would, in one pass (a WebAssembly kernel: this runs several times per denoising step).
  const out = into ?? new Float32Array(shapeOf.data.length);
  combineInto(
    out,
    terms.map(([k]) => k),
    terms.map(([, t]) => t.data),
  );
  return { data: out, dims: [...shapeOf.dims] };
}

/** `s * x`. */
export function scale(x: Tensor, s: number): Tensor {
  const out = new Float32Array(x.data.length);
  scaleInto(out, x.data, s);
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
