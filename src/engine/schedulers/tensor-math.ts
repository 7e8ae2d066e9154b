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
  for (const [, t] of terms) assertSameShape(shapeOf, t, 'linearCombination');
  // One pass per element, summing in float64 (JS numbers) in term order and rounding once to float32:
  // the same arithmetic as accumulating term by term, without a float64 buffer per call. This runs
  // several times per denoising step, so it is unrolled for the common term counts.
  const n = shapeOf.data.length;
  const out = new Float32Array(n);
  const c = terms.map(([k]) => k);
  const d = terms.map(([, t]) => t.data);
  switch (terms.length) {
    case 1: {
      const [c0, d0] = [c[0]!, d[0]!];
      for (let i = 0; i < n; i++) out[i] = 0 + c0 * d0[i]!;
      break;
    }
    case 2: {
      const [c0, c1, d0, d1] = [c[0]!, c[1]!, d[0]!, d[1]!];
      for (let i = 0; i < n; i++) out[i] = 0 + c0 * d0[i]! + c1 * d1[i]!;
      break;
    }
    case 3: {
      const [c0, c1, c2, d0, d1, d2] = [c[0]!, c[1]!, c[2]!, d[0]!, d[1]!, d[2]!];
      for (let i = 0; i < n; i++) out[i] = 0 + c0 * d0[i]! + c1 * d1[i]! + c2 * d2[i]!;
      break;
    }
    default:
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let k = 0; k < c.length; k++) sum += c[k]! * d[k]![i]!;
        out[i] = sum;
      }
  }
  return { data: out, dims: [...shapeOf.dims] };
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
