import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPngText } from '../../src/engine/png-text.ts';
import { GENERATE_QUEUE } from '../../src/state/keys.ts';
import { easelCommand } from '../support/easel-process.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

let root: string;
const prefix = uniquePrefix('imagine-cli');

let easel: ReturnType<typeof easelCommand>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-imagine-'));
  easel = easelCommand(root, testRedisUrl(), prefix);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('easel models tiny + easel imagine (the real binary)', () => {
  it('writes the tiny model, then renders through admission, the queue and an in-process worker', async () => {
    const tiny = await easel(['models', 'tiny']);
    expect(tiny.code).toBe(0);
    const listed = await easel(['models', 'list']);
    expect(listed.stdout).toMatch(/easel-tiny, tiny +txt2img +sd1 +512px +installed/);

    const out = join(root, 'out');
    const { code, stdout } = await easel([
      'imagine',
      'a red circle --model tiny --seed 4242 --n 2',
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain('no worker is connected to the queue: rendering in this process');
    expect(stdout).toMatch(/seed 4242 · cpu · load \d+ ms · render \d+ ms/);
    expect((await readdir(out)).sort()).toEqual(['easel-4242-grid.png', 'easel-4242.png', 'easel-4243.png']);
    const parameters = readPngText(await readFile(join(out, 'easel-4243.png'))).parameters;
    expect(parameters).toContain('Seed: 4243');
    expect(parameters?.startsWith('a red circle\n')).toBe(true);
  });

  it('writes a tiny SDXL model with --family, registers it, and renders it (screened, no safety_checker)', async () => {
    const tiny = await easel(['models', 'tiny', '--family', 'sdxl']);
    expect(tiny.code).toBe(0);
    expect(tiny.stdout).toContain('registered as "easel-tiny-sdxl"');
    const listed = await easel(['models', 'list']);
    expect(listed.stdout).toMatch(/easel-tiny-sdxl, tiny-sdxl +txt2img +sdxl +512px +installed/);
    const out = join(root, 'out-sdxl');
    const { code, stdout } = await easel([
      'imagine',
      'a red circle --model tiny-sdxl --seed 77',
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/seed 77 · cpu/);
    const parameters = readPngText(await readFile(join(out, 'easel-77.png'))).parameters;
    expect(parameters).toContain('Model: easel-tiny-sdxl');
    const bad = await easel(['models', 'tiny', '--family', 'sd4']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--family must be sd1 or one of sd2, sd2-v, sdxl');
  });

  it("shows the validator's message and exits 1 for a bad request, queueing nothing", async () => {
    const queue = new Queue(GENERATE_QUEUE, { connection: { url: testRedisUrl() }, prefix });
    const before = await queue.getJobCounts();
    const { code, stderr } = await easel(['imagine', 'a red circle --model tiny --steps 500']);
    expect(code).toBe(1);
    expect(stderr).toContain('--steps: must be a whole number from 1 to 50 for easel-tiny (got "500")');
    expect(await queue.getJobCounts()).toEqual(before);
    await queue.close();
  });
});
