/**
 * Spherical interpolation between two noise vectors. Gaussian noise in many dimensions lies near a
 * sphere of radius sqrt(n); a straight line between two draws passes well inside it (at t = 0.5 its
 * norm is about 0.71 of theirs), and the sampler turns such low-variance noise into a washed-out
 * picture. Following the great circle keeps every in-between frame a plausible draw.
 */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  if (a.length !== b.length) throw new RangeError(`slerp of ${a.length} and ${b.length} values`);
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    normA += a[i]! * a[i]!;
    normB += b[i]! * b[i]!;
  }
  const cos = dot / Math.sqrt(normA * normB);
  const out = new Float32Array(a.length);
  // Nearly parallel vectors: the angle is too small to divide by, and a line is then as good as the arc.
  if (!Number.isFinite(cos) || Math.abs(cos) > 0.9995) {
    for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i]! + t * b[i]!;
    return out;
  }
  const theta = Math.acos(cos);
  const sin = Math.sin(theta);
  const wa = Math.sin((1 - t) * theta) / sin;
  const wb = Math.sin(t * theta) / sin;
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i]! + wb * b[i]!;
  return out;
}
