import {
  SCENE_PALETTE,
  SCENE_SIDE,
  type SceneColour,
  type SceneShape,
} from '../../src/engine/evaluate-shapes/scene-vocabulary.ts';
import type { RgbImage } from '../../src/engine/image-io.ts';

export interface SceneDrawing {
  shape: SceneShape;
  shapeColour: SceneColour;
  background: SceneColour;
  /** Side of the shape's bounding box in pixels (the training draws 12 to 22). */
  size: number;
  cx: number;
  cy: number;
}

const SUPERSAMPLE = 4;

function inside(shape: SceneShape, dx: number, dy: number, h: number): boolean {
  if (shape === 'circle') return dx * dx + dy * dy <= h * h;
  if (shape === 'square') return Math.abs(dx) <= h && Math.abs(dy) <= h;
  // Upright isosceles triangle: apex (cx, cy - h), base along y = cy + h from cx - h to cx + h.
  return dy <= h && Math.abs(dx) <= (dy + h) / 2;
}

/**
 * Draws a scene the way models/easel-mini/train/scenes.py `render` does: the shape on a 4x
 * supersampled grid, box-filtered down, so edges carry fractional coverage like the training data.
 */
export function drawScene(scene: SceneDrawing, side = SCENE_SIDE): RgbImage {
  const fg = SCENE_PALETTE[scene.shapeColour];
  const bg = SCENE_PALETTE[scene.background];
  const data = Buffer.alloc(side * side * 3);
  const h = scene.size / 2;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let hits = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          const px = x + (sx + 0.5) / SUPERSAMPLE;
          const py = y + (sy + 0.5) / SUPERSAMPLE;
          if (inside(scene.shape, px - scene.cx, py - scene.cy, h)) hits++;
        }
      }
      const coverage = hits / (SUPERSAMPLE * SUPERSAMPLE);
      for (let c = 0; c < 3; c++) {
        // The training mixes in [-1, 1] and maps back with round((v / 2 + 0.5) * 255); the same in 0-255.
        const v = bg[c]! * (1 - coverage) + fg[c]! * coverage;
        data[(y * side + x) * 3 + c] = Math.round(v);
      }
    }
  }
  return { data, width: side, height: side };
}
