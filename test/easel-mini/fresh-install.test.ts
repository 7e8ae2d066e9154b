import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseScene } from '../../src/engine/evaluate-shapes/analyse-scene.ts';
import { displayToScene } from '../../src/engine/evaluate-shapes/display-to-scene.ts';
import { readPngText } from '../../src/engine/png-text.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

const run = promisify(execFile);
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-fresh-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a fresh install (no model downloaded, nothing configured)', () => {
  it('renders a prompt with easel-mini through `easel imagine`, unscreened, and the picture follows it', async () => {
    // What a new operator has: an empty MODELS_DIR, no DEFAULT_MODEL, NSFW screening at its default (on).
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      REDIS_URL: testRedisUrl(),
      QUEUE_PREFIX: uniquePrefix('easel-mini-fresh'),
      MODELS_DIR: join(root, 'models'),
      ARTIFACTS_DIR: join(root, 'artifacts'),
      DATA_DIR: join(root, 'data'),
      ENGINE_THREADS: '1',
    };
    const out = join(root, 'out');
    const { stdout } = await run(
      'node',
      ['bin/easel.js', 'imagine', 'a red circle on a blue background --seed 7', '--out', out],
      { env, timeout: 120_000 },
    );
    expect(stdout).toContain('easel-mini, 512x512, 25 steps, seed 7');
    expect(await readdir(out)).toEqual(['easel-7.png']);

    const png = await readFile(join(out, 'easel-7.png'));
    const parameters = readPngText(png).parameters ?? '';
    expect(parameters).toContain('Model: easel-mini');
    expect(parameters).toContain('Size: 512x512');
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([512, 512]);
    const reading = analyseScene(displayToScene({ data, width: 512, height: 512 }, 32, 32));
    expect(reading).toMatchObject({ shape: 'circle', shapeColour: 'red', background: 'blue' });
  }, 150_000);
});
