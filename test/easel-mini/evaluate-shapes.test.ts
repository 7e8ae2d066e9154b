import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  analyseScene,
  CIRCLE_MAX_FILL,
  FOREGROUND_DISTANCE,
  nearestColour,
  TRIANGLE_MAX_FILL,
} from '../../src/engine/evaluate-shapes/analyse-scene.ts';
import { displayToScene } from '../../src/engine/evaluate-shapes/display-to-scene.ts';
import {
  SCENE_COLOURS,
  SCENE_PALETTE,
  SCENE_SHAPES,
  type SceneColour,
} from '../../src/engine/evaluate-shapes/scene-vocabulary.ts';
import {
  formatScoreTable,
  scorePromptFollowing,
} from '../../src/engine/evaluate-shapes/score-prompt-following.ts';
import { resizeRgb } from '../../src/engine/image-io.ts';
import { drawScene, type SceneDrawing } from './draw-scene.ts';

const TRAIN_DIR = join(import.meta.dirname, '../../models/easel-mini/train');

/** A small seeded generator (mulberry32), so the random scenes are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Scenes drawn like scenes.py sample_scene_params, over a wider range than the shipped model was
 * trained on (12-22 px and +-5 px from the centre, against 15-22 px and +-2 px).
 */
function randomScenes(count: number, seed: number): SceneDrawing[] {
  const random = seeded(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  return Array.from({ length: count }, () => {
    const shapeColour = pick(SCENE_COLOURS);
    const background = pick(SCENE_COLOURS.filter((c) => c !== shapeColour));
    const size = 12 + 10 * random();
    const lo = Math.max(3 + size / 2, 16 - 5);
    const hi = Math.min(32 - 3 - size / 2, 16 + 5);
    return {
      shape: pick(SCENE_SHAPES),
      shapeColour,
      background,
      size,
      cx: lo + (hi - lo) * random(),
      cy: lo + (hi - lo) * random(),
    };
  });
}

describe('the scene vocabulary mirrors the training code', () => {
  it('has the palette and shapes of scenes.py, in its order', () => {
    const source = readFileSync(join(TRAIN_DIR, 'scenes.py'), 'utf8');
    const palette = /PALETTE = \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
    const colours = [...palette.matchAll(/"(\w+)": \((\d+), (\d+), (\d+)\)/g)].map((m) => [
      m[1],
      [Number(m[2]), Number(m[3]), Number(m[4])],
    ]);
    expect(colours.length).toBeGreaterThanOrEqual(6);
    expect(colours).toEqual(Object.entries(SCENE_PALETTE));
    const shapes = /^SHAPES = \[(.*)\]$/m.exec(source)?.[1] ?? '';
    expect([...shapes.matchAll(/"(\w+)"/g)].map((m) => m[1])).toEqual([...SCENE_SHAPES]);
  });

  it("uses evaluate.py's thresholds, so both report the same figures", () => {
    const source = readFileSync(join(TRAIN_DIR, 'evaluate.py'), 'utf8');
    expect(Number(/^FG_THRESHOLD = ([\d.]+)$/m.exec(source)?.[1])).toBe(FOREGROUND_DISTANCE);
    const [, tri, circle] = /^TRI_MAX, CIRCLE_MAX = ([\d.]+), ([\d.]+)$/m.exec(source) ?? [];
    expect([Number(tri), Number(circle)]).toEqual([TRIANGLE_MAX_FILL, CIRCLE_MAX_FILL]);
  });
});

describe('reading a drawn scene', () => {
  it('reads every shape in every colour pair, centred, at the smallest and largest size', () => {
    const wrong: string[] = [];
    for (const shape of SCENE_SHAPES) {
      for (const shapeColour of SCENE_COLOURS) {
        for (const background of SCENE_COLOURS) {
          if (background === shapeColour) continue;
          for (const size of [12, 22]) {
            const reading = analyseScene(drawScene({ shape, shapeColour, background, size, cx: 16, cy: 16 }));
            const got = `${reading.shapeColour} ${reading.shape} on ${reading.background}`;
            if (got !== `${shapeColour} ${shape} on ${background}`) wrong.push(`${got} (size ${size})`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('reads 300 scenes of random size and position all right', () => {
    const scenes = randomScenes(300, 5);
    const score = scorePromptFollowing(
      scenes.map((s) => ({ asked: s, reading: analyseScene(drawScene(s)) })),
    );
    expect(score).toMatchObject({ shapeColour: 1, background: 1, shape: 1, all: 1 });
  });

  it('measures fill ratios near pi/4 for circles, 1 for squares and 1/2 for triangles', () => {
    const fills = new Map<string, number[]>();
    for (const s of randomScenes(150, 11)) {
      fills.set(s.shape, [...(fills.get(s.shape) ?? []), analyseScene(drawScene(s)).fill!]);
    }
    const within = (shape: string, lo: number, hi: number) => {
      const values = fills.get(shape)!;
      expect(Math.min(...values)).toBeGreaterThan(lo);
      expect(Math.max(...values)).toBeLessThan(hi);
    };
    within('circle', 0.74, 0.83);
    within('square', 0.97, 1.0001);
    within('triangle', 0.5, 0.62);
  });

  it('ignores specks apart from the shape: the largest connected part is the shape', () => {
    const picture = drawScene({
      shape: 'square',
      shapeColour: 'yellow',
      background: 'blue',
      size: 12,
      cx: 18,
      cy: 18,
    });
    // Three red pixels in a corner, far from the square and from the background.
    for (const [x, y] of [
      [4, 4],
      [5, 4],
      [4, 5],
    ] as const) {
      picture.data.set(SCENE_PALETTE.red, (y * 32 + x) * 3);
    }
    expect(analyseScene(picture)).toMatchObject({
      shape: 'square',
      shapeColour: 'yellow',
      background: 'blue',
    });
  });

  it('reports the background and no shape for a plain picture', () => {
    const plain = drawScene({
      shape: 'circle',
      shapeColour: 'green',
      background: 'green',
      size: 16,
      cx: 16,
      cy: 16,
    });
    const reading = analyseScene(plain);
    expect(reading.background).toBe('green');
    expect(reading.shape).toBeUndefined();
    expect(reading.shapeColour).toBeUndefined();
    expect(reading.shapePixels).toBe(0);
  });

  it('reads a colour that only resembles the palette as the nearest palette colour', () => {
    expect(nearestColour([200, 60, 40])).toBe('red');
    expect(nearestColour([250, 150, 30])).toBe('orange');
    expect(nearestColour([120, 120, 120])).not.toBe('white');
  });
});

describe('reading the displayed picture', () => {
  it('recovers the 32x32 render from the 512x512 Lanczos enlargement the engine shows', async () => {
    for (const scene of randomScenes(12, 3)) {
      const rendered = drawScene(scene);
      const display = await resizeRgb(rendered, 512, 512, 'fill');
      const recovered = displayToScene(display, 32, 32);
      let worst = 0;
      for (let i = 0; i < rendered.data.length; i++) {
        worst = Math.max(worst, Math.abs(rendered.data[i]! - recovered.data[i]!));
      }
      expect(worst).toBeLessThanOrEqual(8);
      expect(analyseScene(recovered)).toMatchObject({
        shape: scene.shape,
        shapeColour: scene.shapeColour,
        background: scene.background,
      });
    }
  });

  it('refuses a display that is not a whole multiple of the render', () => {
    const display = { data: Buffer.alloc(500 * 500 * 3), width: 500, height: 500 };
    expect(() => displayToScene(display, 32, 32)).toThrow(
      'a 500x500 display is not a whole multiple of 32x32',
    );
  });
});

describe('tallying prompt following', () => {
  it('counts each part and all three together, and shapes by kind', () => {
    const asked = { shape: 'circle', shapeColour: 'red', background: 'blue' } as const;
    const read = (shape: 'circle' | 'square', shapeColour: SceneColour, background: SceneColour) => ({
      shape,
      shapeColour,
      background,
      shapePixels: 100,
    });
    const score = scorePromptFollowing([
      { asked, reading: read('circle', 'red', 'blue') },
      { asked, reading: read('square', 'red', 'blue') },
      { asked, reading: read('circle', 'orange', 'blue') },
      { asked: { ...asked, shape: 'square' }, reading: read('square', 'red', 'white') },
    ]);
    expect(score).toEqual({
      pictures: 4,
      shapeColour: 0.75,
      background: 0.75,
      shape: 0.75,
      all: 0.25,
      shapeByKind: { circle: 2 / 3, square: 1, triangle: 0 },
    });
    expect(formatScoreTable(score)).toContain('| all three | 25.0% |');
  });
});
