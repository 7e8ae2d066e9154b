import type { RgbImage } from '../image-io.ts';
import { SCENE_COLOURS, SCENE_PALETTE, type SceneColour, type SceneShape } from './scene-vocabulary.ts';

/**
 * Reads back what an easel-mini picture shows, from pixel statistics alone. The rules and
 * thresholds are those of models/easel-mini/train/evaluate.py (`analyse`), so the figures the
 * training reports and the figures measured through the TypeScript engine mean the same thing:
 *
 * - background: the per-channel median of the 2-pixel border ring (shapes are drawn at least 3
 *   pixels inside), snapped to the nearest palette colour;
 * - foreground: pixels farther than 60 (RGB distance) from that median; the largest 4-connected
 *   group of them is the shape (stray specks elsewhere do not count);
 * - shape colour: the per-channel median of the shape's pixels, snapped to the palette;
 * - shape: the fill ratio of its soft coverage, area / (widest row x tallest column), which is
 *   pi/4 for a circle, 1 for a square and 1/2 for an upright triangle, at any size and position.
 */

/** Distance from the background colour past which a pixel belongs to the foreground. */
export const FOREGROUND_DISTANCE = 60;
/** Fill ratios below this are triangles (ideal 0.5). */
export const TRIANGLE_MAX_FILL = 0.67;
/** Fill ratios below this (and not a triangle) are circles (ideal 0.785); the rest squares (1). */
export const CIRCLE_MAX_FILL = 0.9;
const BORDER = 2;
/** A foreground smaller than this is noise, not a shape: nothing is reported for it. */
const MIN_SHAPE_PIXELS = 4;

export interface SceneReading {
  background: SceneColour;
  /** Absent when no shape stands out from the background. */
  shapeColour?: SceneColour;
  shape?: SceneShape;
  /** Coverage / (widest row x tallest column) of the shape. */
  fill?: number;
  /** Pixels of the shape (its largest connected part). */
  shapePixels: number;
}

type Rgb = [number, number, number];

/** The palette colour nearest in RGB (ties go to the earlier colour, as numpy's argmin does). */
export function nearestColour(rgb: readonly number[]): SceneColour {
  let best: SceneColour = SCENE_COLOURS[0]!;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of SCENE_COLOURS) {
    const p = SCENE_PALETTE[name];
    const d = (p[0] - rgb[0]!) ** 2 + (p[1] - rgb[1]!) ** 2 + (p[2] - rgb[2]!) ** 2;
    if (d < bestDistance) {
      bestDistance = d;
      best = name;
    }
  }
  return best;
}

/** numpy's median: the middle value, or the mean of the two middle values of an even count. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianColour(image: RgbImage, pixels: readonly number[]): Rgb {
  const channel = (c: number) => median(pixels.map((p) => image.data[p * 3 + c]!));
  return [channel(0), channel(1), channel(2)];
}

/** The largest 4-connected component of `mask` (pixel indices); the first found wins a tie. */
function largestComponent(mask: Uint8Array, width: number, height: number): number[] {
  const seen = new Uint8Array(mask.length);
  let best: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] === 0 || seen[start] === 1) continue;
    const component: number[] = [];
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const p = stack.pop()!;
      component.push(p);
      const x = p % width;
      const y = (p - x) / width;
      const neighbours = [
        y + 1 < height ? p + width : -1,
        y > 0 ? p - width : -1,
        x + 1 < width ? p + 1 : -1,
        x > 0 ? p - 1 : -1,
      ];
      for (const n of neighbours) {
        if (n >= 0 && mask[n] === 1 && seen[n] === 0) {
          seen[n] = 1;
          stack.push(n);
        }
      }
    }
    if (component.length > best.length) best = component;
  }
  return best;
}

export function analyseScene(image: RgbImage): SceneReading {
  const { width, height, data } = image;
  const ring: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (y < BORDER || y >= height - BORDER || x < BORDER || x >= width - BORDER) ring.push(y * width + x);
    }
  }
  const bg = medianColour(image, ring);
  const reading: SceneReading = { background: nearestColour(bg), shapePixels: 0 };

  const mask = new Uint8Array(width * height);
  for (let p = 0; p < mask.length; p++) {
    const d = Math.hypot(data[p * 3]! - bg[0], data[p * 3 + 1]! - bg[1], data[p * 3 + 2]! - bg[2]);
    mask[p] = d > FOREGROUND_DISTANCE ? 1 : 0;
  }
  const shape = largestComponent(mask, width, height);
  reading.shapePixels = shape.length;
  if (shape.length < MIN_SHAPE_PIXELS) return reading;

  const fg = medianColour(image, shape);
  reading.shapeColour = nearestColour(fg);

  // Soft coverage over the shape's bounding box grown by a pixel, so anti-aliased edges count.
  let minX = width;
  let maxX = -1;
  let minY = height;
  let maxY = -1;
  for (const p of shape) {
    const x = p % width;
    const y = (p - x) / width;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const x0 = Math.max(minX - 1, 0);
  const x1 = Math.min(maxX + 2, width);
  const y0 = Math.max(minY - 1, 0);
  const y1 = Math.min(maxY + 2, height);
  const dir: Rgb = [fg[0] - bg[0], fg[1] - bg[1], fg[2] - bg[2]];
  const dirSquared = Math.max(dir[0] ** 2 + dir[1] ** 2 + dir[2] ** 2, 1e-6);
  const columnSums = new Float64Array(x1 - x0);
  let total = 0;
  let widestRow = 0;
  for (let y = y0; y < y1; y++) {
    let rowSum = 0;
    for (let x = x0; x < x1; x++) {
      const p = (y * width + x) * 3;
      const along =
        (data[p]! - bg[0]) * dir[0] + (data[p + 1]! - bg[1]) * dir[1] + (data[p + 2]! - bg[2]) * dir[2];
      const coverage = Math.min(Math.max(along / dirSquared, 0), 1);
      rowSum += coverage;
      columnSums[x - x0]! += coverage;
    }
    total += rowSum;
    widestRow = Math.max(widestRow, rowSum);
  }
  const tallestColumn = Math.max(...columnSums);
  const fill = total / Math.max(widestRow * tallestColumn, 1e-6);
  reading.fill = fill;
  reading.shape = fill < TRIANGLE_MAX_FILL ? 'triangle' : fill < CIRCLE_MAX_FILL ? 'circle' : 'square';
  return reading;
}
