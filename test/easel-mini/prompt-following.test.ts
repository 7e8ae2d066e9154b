import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_BUILTINS } from '../../src/engine/engine-settings.ts';
import { analyseScene, type SceneReading } from '../../src/engine/evaluate-shapes/analyse-scene.ts';
import { displayToScene } from '../../src/engine/evaluate-shapes/display-to-scene.ts';
import {
  SCENE_COLOURS,
  SCENE_SHAPES,
  type SceneColour,
} from '../../src/engine/evaluate-shapes/scene-vocabulary.ts';
import {
  formatScoreTable,
  type SceneAsked,
  scorePromptFollowing,
} from '../../src/engine/evaluate-shapes/score-prompt-following.ts';
import { type GenerateOptions, generatePictures } from '../../src/engine/generate-pictures.ts';
import { ModelStore } from '../../src/engine/model-store.ts';
import { PromptTokenizer } from '../../src/engine/prompt-tokenizer.ts';
import { createLogger } from '../../src/log/logger.ts';
import { modelFolder } from '../../src/models/model-folder.ts';
import { findModel, loadRegistry, type ModelEntry, type Registry } from '../../src/models/registry.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { validateRequest } from '../../src/request/validate-request.ts';

/**
 * easel-mini through the real engine: the committed ONNX files, the engine's tokenizer, scheduler
 * and pipeline, the registry's defaults (25 DDIM steps, guidance 1.5), each request made by the same
 * parser and validator a member's goes through. The pictures are read back with the evaluator of
 * src/engine/evaluate-shapes (the training's evaluate.py rules) and must meet issue 8's targets.
 *
 * EASEL_MINI_MODEL_DIR=/path/to/export scores another export (say a candidate from
 * models/easel-mini/train/export.py --out) instead of the committed model.
 */

const TARGETS = { shapeColour: 0.95, background: 0.95, shape: 0.8, all: 0.75 };
/** Two keep the suite fast (144 pictures); EASEL_MINI_SEEDS=3 renders evaluate.py's full 216. */
const SEEDS_PER_PROMPT = Number(process.env.EASEL_MINI_SEEDS ?? 2);

let modelsDir: string;
let catalog: Registry;
let entry: ModelEntry;
let store: ModelStore;

beforeAll(async () => {
  catalog = loadRegistry();
  const candidate = process.env.EASEL_MINI_MODEL_DIR;
  if (candidate) {
    modelsDir = dirname(resolve(candidate));
    const other = { ...findModel(catalog, 'easel-mini')!, builtin: false, folder: basename(candidate) };
    catalog = { models: [other, ...catalog.models.filter((m) => m.id !== 'easel-mini')] };
  } else {
    // An empty MODELS_DIR, as on a fresh install: the built-in model is found in the package.
    modelsDir = await mkdtemp(join(tmpdir(), 'easel-mini-models-'));
  }
  entry = findModel(catalog, 'easel-mini')!;
  store = new ModelStore(
    { modelsDir, providers: ['cpu'], threads: 1, builtin: NO_BUILTINS },
    catalog,
    createLogger('silent'),
  );
});

afterAll(async () => {
  await store.release();
  if (!process.env.EASEL_MINI_MODEL_DIR) await rm(modelsDir, { recursive: true, force: true });
});

function options(): GenerateOptions {
  return {
    store,
    catalog,
    maxPixels: 1024 * 1024,
    images: {
      load: async () => {
        throw new Error('txt2img loads no image');
      },
    },
  };
}

/** A member's request for `text` (prompt and flags), as the validator makes it. */
function requestFor(text: string): GenerationRequest {
  const validated = validateRequest(parsePromptFlags(text), { registry: catalog, defaultModel: entry.id });
  if (!validated.ok) throw new Error(`invalid request ${text}: ${JSON.stringify(validated.errors)}`);
  return validated.request;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

/** Caption styles of models/easel-mini/train/scenes.py that name the background. */
const CAPTIONS: ((fg: string, shape: string, bg: string) => string)[] = [
  (fg, shape, bg) => `${article(fg)} ${fg} ${shape} on ${article(bg)} ${bg} background`,
  (fg, shape, bg) => `${fg} ${shape}, ${bg} background`,
  (fg, shape, bg) => `${article(fg)} ${fg} ${shape} on ${bg}`,
  (fg, shape, bg) => `${bg} background with ${article(fg)} ${fg} ${shape}`,
  (fg, shape, bg) => `a picture of ${article(fg)} ${fg} ${shape} on ${article(bg)} ${bg} background`,
  (fg, shape, bg) => `${article(fg)} ${fg} ${shape} in front of ${article(bg)} ${bg} background`,
  (fg, shape, bg) => `${fg} ${shape} on ${bg} background`,
];

interface PromptCase extends SceneAsked {
  prompt: string;
  seed: number;
}

/**
 * The 72 prompts of the training's evaluate.py (`eval_prompts`): every shape in every colour, each
 * on three other backgrounds, the caption styles in turn; prompt k gets seeds 1000 + 17k, + 1, + 2.
 */
function promptCases(): PromptCase[] {
  const cases: PromptCase[] = [];
  SCENE_SHAPES.forEach((shape, si) => {
    SCENE_COLOURS.forEach((shapeColour, fi) => {
      for (let j = 0; j < 3; j++) {
        const background = SCENE_COLOURS[(fi + 1 + ((3 * j + si + fi) % 7)) % 8] as SceneColour;
        const prompt = CAPTIONS[cases.length % CAPTIONS.length]!(shapeColour, shape, background);
        cases.push({ prompt, shape, shapeColour, background, seed: 1000 + 17 * (cases.length + 1) });
      }
    });
  });
  return cases;
}

describe('easel-mini follows prompts through the real engine', () => {
  it(`meets the targets over 72 prompts x ${SEEDS_PER_PROMPT} seeds: colours >= 95%, shape >= 80%, all three >= 75%`, async () => {
    const results: { asked: SceneAsked; reading: SceneReading; prompt: string; seed: number }[] = [];
    const started = performance.now();
    for (const c of promptCases()) {
      const request = requestFor(`${c.prompt} --seed ${c.seed} --n ${SEEDS_PER_PROMPT}`);
      // The figures are for the registry's defaults; a change there must be measured again.
      expect(request).toMatchObject({ model: 'easel-mini', steps: 25, guidance: 1.5, sampler: 'ddim' });
      const out = await generatePictures(request, options());
      out.pictures.forEach((picture, i) => {
        const rendered = displayToScene(
          picture,
          request.width / entry.renderScale,
          request.height / entry.renderScale,
        );
        results.push({ asked: c, reading: analyseScene(rendered), prompt: c.prompt, seed: out.seeds[i]! });
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const score = scorePromptFollowing(results);
    const misses = results
      .filter(
        (r) =>
          r.reading.shape !== r.asked.shape ||
          r.reading.shapeColour !== r.asked.shapeColour ||
          r.reading.background !== r.asked.background,
      )
      .map(
        (r) =>
          `  "${r.prompt}" seed ${r.seed}: read ${r.reading.shapeColour ?? 'nothing'} ${r.reading.shape ?? ''} ` +
          `on ${r.reading.background} (fill ${r.reading.fill?.toFixed(3) ?? '-'})`,
      );
    console.log(
      `easel-mini prompt following (${results.length} pictures, 25 DDIM steps, guidance 1.5, ` +
        `${seconds.toFixed(1)} s):\n${formatScoreTable(score)}\n` +
        (misses.length > 0 ? `misses:\n${misses.join('\n')}` : 'no misses'),
    );
    expect(results.length).toBeGreaterThanOrEqual(60);
    expect(score.shapeColour).toBeGreaterThanOrEqual(TARGETS.shapeColour);
    expect(score.background).toBeGreaterThanOrEqual(TARGETS.background);
    expect(score.shape).toBeGreaterThanOrEqual(TARGETS.shape);
    expect(score.all).toBeGreaterThanOrEqual(TARGETS.all);
  }, 180_000);

  it('gives identical pixels for the same prompt and seed', async () => {
    const a = await generatePictures(requestFor('a red circle on a blue background --seed 7'), options());
    const b = await generatePictures(requestFor('a red circle on a blue background --seed 7'), options());
    const c = await generatePictures(requestFor('a red circle on a blue background --seed 8'), options());
    expect(a.pictures[0]!.width).toBe(512);
    expect(Buffer.compare(a.pictures[0]!.data, b.pictures[0]!.data)).toBe(0);
    expect(Buffer.compare(a.pictures[0]!.data, c.pictures[0]!.data)).not.toBe(0);
  });

  it("tokenizes every prompt of the training's tokenizer-vectors.json to the same ids", async () => {
    const vectors = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../models/easel-mini/train/tokenizer-vectors.json'), 'utf8'),
    ) as { max_length: number; vectors: { prompt: string; input_ids: number[] }[] };
    const tokenizer = await PromptTokenizer.load(join(modelFolder(entry, modelsDir), 'tokenizer'), 77);
    expect(vectors.vectors.length).toBeGreaterThanOrEqual(10);
    for (const v of vectors.vectors) {
      expect({ prompt: v.prompt, ids: tokenizer.encode(v.prompt).ids }).toEqual({
        prompt: v.prompt,
        ids: v.input_ids,
      });
    }
  });
});
