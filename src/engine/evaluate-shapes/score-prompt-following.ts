import type { SceneReading } from './analyse-scene.ts';
import { SCENE_SHAPES, type SceneColour, type SceneShape } from './scene-vocabulary.ts';

/** What a prompt asked for. */
export interface SceneAsked {
  shape: SceneShape;
  shapeColour: SceneColour;
  background: SceneColour;
}

export interface PromptFollowingScore {
  pictures: number;
  /** Shares from 0 to 1 of the pictures that got each part right; `all` got the three right. */
  shapeColour: number;
  background: number;
  shape: number;
  all: number;
  /** Share of right shapes among the pictures that asked for each shape. */
  shapeByKind: Record<SceneShape, number>;
}

/** Tallies readings against what each prompt asked for. */
export function scorePromptFollowing(
  results: readonly { asked: SceneAsked; reading: SceneReading }[],
): PromptFollowingScore {
  let shapeColour = 0;
  let background = 0;
  let shape = 0;
  let all = 0;
  const kinds = new Map<SceneShape, { right: number; asked: number }>(
    SCENE_SHAPES.map((s) => [s, { right: 0, asked: 0 }]),
  );
  for (const { asked, reading } of results) {
    const colourRight = reading.shapeColour === asked.shapeColour;
    const backgroundRight = reading.background === asked.background;
    const shapeRight = reading.shape === asked.shape;
    shapeColour += Number(colourRight);
    background += Number(backgroundRight);
    shape += Number(shapeRight);
    all += Number(colourRight && backgroundRight && shapeRight);
    const kind = kinds.get(asked.shape)!;
    kind.asked++;
    kind.right += Number(shapeRight);
  }
  const n = results.length;
  const share = (k: number, of: number) => (of === 0 ? 0 : k / of);
  const shapeByKind = Object.fromEntries([...kinds].map(([s, k]) => [s, share(k.right, k.asked)])) as Record<
    SceneShape,
    number
  >;
  return {
    pictures: n,
    shapeColour: share(shapeColour, n),
    background: share(background, n),
    shape: share(shape, n),
    all: share(all, n),
    shapeByKind,
  };
}

/** A small Markdown table of a score, for the console and the README. */
export function formatScoreTable(score: PromptFollowingScore): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const rows: [string, string][] = [
    ['shape colour', pct(score.shapeColour)],
    ['background colour', pct(score.background)],
    ['shape', pct(score.shape)],
    ...SCENE_SHAPES.map((s): [string, string] => [`  ${s}`, pct(score.shapeByKind[s])]),
    ['all three', pct(score.all)],
  ];
  return [
    `| measured over ${score.pictures} pictures | right |`,
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ].join('\n');
}
