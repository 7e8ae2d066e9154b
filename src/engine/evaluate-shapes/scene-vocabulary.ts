/**
 * What easel-mini was trained to draw, mirrored from models/easel-mini/train/scenes.py (PALETTE,
 * SHAPES, caption). test/easel-mini/evaluate-shapes.test.ts reads scenes.py and fails when the two
 * drift apart, so a retrained model with new colours cannot be scored against an old palette.
 */
export const SCENE_PALETTE = {
  red: [220, 25, 25],
  green: [35, 170, 50],
  blue: [35, 70, 225],
  yellow: [245, 230, 40],
  purple: [140, 40, 190],
  orange: [250, 130, 0],
  white: [245, 245, 245],
  black: [20, 20, 20],
} as const satisfies Record<string, readonly [number, number, number]>;

export type SceneColour = keyof typeof SCENE_PALETTE;

/** In the training script's order (its nearest-colour search breaks ties by this order). */
export const SCENE_COLOURS = Object.keys(SCENE_PALETTE) as SceneColour[];

export const SCENE_SHAPES = ['circle', 'square', 'triangle'] as const;

export type SceneShape = (typeof SCENE_SHAPES)[number];

/** Side of the pictures easel-mini renders (before the display upscale). */
export const SCENE_SIDE = 32;
