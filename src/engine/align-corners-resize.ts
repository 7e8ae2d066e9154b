import type { RgbImage } from './image-io.ts';

/**
 * Pixels / 255 resized to size x size, channels-last float32, exactly as nsfwjs prepares an image:
 * it divides by 255 first, then calls TF.js's `resizeBilinear(..., alignCorners = true)` unless the
 * picture already has the size. Reproducing TF.js's arithmetic (float32 values, double-precision
 * interpolation) is what makes easel's probabilities match nsfwjs's, and the thresholds people
 * tuned for nsfwjs mean the same here.
 */
export function alignCornersResize(image: RgbImage, size: number): Float32Array {
  const { width, height, data } = image;
  const normalized = new Float32Array(width * height * 3);
  for (let i = 0; i < normalized.length; i++) normalized[i] = data[i]! / 255;
  if (width === size && height === size) return normalized;
  const out = new Float32Array(size * size * 3);
  const rowRatio = size > 1 ? (height - 1) / (size - 1) : height / size;
  const colRatio = size > 1 ? (width - 1) / (size - 1) : width / size;
  for (let r = 0; r < size; r++) {
    const srcRow = rowRatio * r;
    const top = Math.max(0, Math.floor(srcRow));
    const bottom = Math.min(height - 1, Math.ceil(srcRow));
    const rowFrac = srcRow - top;
    for (let c = 0; c < size; c++) {
      const srcCol = colRatio * c;
      const left = Math.max(0, Math.floor(srcCol));
      const right = Math.min(width - 1, Math.ceil(srcCol));
      const colFrac = srcCol - left;
      for (let ch = 0; ch < 3; ch++) {
        const tl = normalized[(top * width + left) * 3 + ch]!;
        const tr = normalized[(top * width + right) * 3 + ch]!;
        const bl = normalized[(bottom * width + left) * 3 + ch]!;
        const br = normalized[(bottom * width + right) * 3 + ch]!;
        const upper = tl + (tr - tl) * colFrac;
        const lower = bl + (br - bl) * colFrac;
        out[(r * size + c) * 3 + ch] = upper + (lower - upper) * rowFrac;
      }
    }
  }
  return out;
}
