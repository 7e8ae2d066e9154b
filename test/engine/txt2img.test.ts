import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GenerateOptions, generatePictures } from '../../src/engine/generate-pictures.ts';
import { isFlowMatchingSampler } from '../../src/request/sampler-names.ts';
import { type GenerationRequest, SAMPLERS } from '../../src/request/types.ts';
import { type TinyWorld, tinyEntry, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

let world: TinyWorld;

beforeAll(async () => {
  world = await tinyWorld();
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

function options(): GenerateOptions {
  return {
    store: world.store,
    catalog: world.catalog,
    maxPixels: 1536 * 1536,
    images: {
      load: async () => {
        throw new Error('txt2img loads no image');
      },
    },
  };
}

async function render(overrides: Partial<GenerationRequest> = {}) {
  return generatePictures(tinyRequest(overrides), options());
}

function differs(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n / a.length;
}

describe('txt2img through the real pipeline on tiny models', () => {
  it('renders one picture per requested image at the display size', async () => {
    const out = await render({ count: 3, width: 128, height: 64 });
    expect(out.pictures).toHaveLength(3);
    for (const p of out.pictures) {
      expect([p.width, p.height]).toEqual([128, 64]);
      expect(p.data.length).toBe(128 * 64 * 3);
    }
    expect(out.seeds).toEqual([42, 43, 44]);
    expect(out.provider).toBe('cpu');
  });

  it('renders an API request of more than four images in groups of four, seeds in order, progress over all', async () => {
    const progress: [number, number][] = [];
    const out = await generatePictures(tinyRequest({ count: 6, seed: 500, steps: 3 }), {
      ...options(),
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(out.pictures).toHaveLength(6);
    expect(out.seeds).toEqual([500, 501, 502, 503, 504, 505]);
    // Two groups (4 + 2), three steps each, counted as one run of six steps.
    expect(progress.map(([done]) => done)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(progress.map(([, total]) => total))).toEqual(new Set([6]));
    // The second group [504, 505] is the same batch as a request of two from seed 504.
    const alone = await render({ count: 2, seed: 504, steps: 3 });
    expect(Buffer.compare(out.pictures[4]!.data, alone.pictures[0]!.data)).toBe(0);
    expect(Buffer.compare(out.pictures[5]!.data, alone.pictures[1]!.data)).toBe(0);
  });

  it('gives identical pixels for the same seed and parameters', async () => {
    const a = await render({ seed: 1234 });
    const b = await render({ seed: 1234 });
    expect(Buffer.compare(a.pictures[0]!.data, b.pictures[0]!.data)).toBe(0);
  });

  it('gives image i of a batch the pixels of seed + i rendered alone', async () => {
    const batch = await render({ seed: 500, count: 2 });
    const alone = await render({ seed: 501, count: 1 });
    expect(Buffer.compare(batch.pictures[1]!.data, alone.pictures[0]!.data)).toBe(0);
  });

  it('gives different pictures for different seeds', async () => {
    const a = await render({ seed: 1 });
    const b = await render({ seed: 2 });
    expect(differs(a.pictures[0]!.data, b.pictures[0]!.data)).toBeGreaterThan(0.5);
  });

  it('lets the prompt and the guidance change the picture', async () => {
    const base = await render({ prompt: 'a red circle' });
    const otherPrompt = await render({ prompt: 'a dragon over a city at night' });
    const noGuidance = await render({ prompt: 'a red circle', guidance: 1 });
    expect(differs(base.pictures[0]!.data, otherPrompt.pictures[0]!.data)).toBeGreaterThan(0.1);
    expect(differs(base.pictures[0]!.data, noGuidance.pictures[0]!.data)).toBeGreaterThan(0.1);
  });

  // The tiny model is SD 1-shaped: flow_euler samples only SD3 models and refuses it.
  it.each(SAMPLERS.filter((s) => !isFlowMatchingSampler(s)))(
    'renders with the %s sampler, deterministically',
    async (sampler) => {
      const a = await render({ sampler, seed: 77 });
      const b = await render({ sampler, seed: 77 });
      expect(Buffer.compare(a.pictures[0]!.data, b.pictures[0]!.data)).toBe(0);
    },
  );

  it('runs a diffusers class named exactly with the model scheduler config as given', async () => {
    // A copy of the tiny model whose scheduler config asks for Karras sigmas: the class as given
    // is DPM++ 2M Karras there, where easel's plain dpmpp_2m ignores the model's sigma choice.
    const dir = join(world.modelsDir, 'tiny-karras');
    await cp(join(world.modelsDir, 'tiny'), dir, { recursive: true });
    const file = join(dir, 'scheduler', 'scheduler_config.json');
    const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...config, use_karras_sigmas: true }));
    world.catalog.models.push(tinyEntry('tiny-karras'));
    const asGiven = await render({ model: 'tiny-karras', sampler: 'DPMSolverMultistepScheduler', seed: 5 });
    const karras = await render({ model: 'tiny-karras', sampler: 'dpmpp_2m_karras', seed: 5 });
    const plain = await render({ model: 'tiny-karras', sampler: 'dpmpp_2m', seed: 5 });
    expect(Buffer.compare(asGiven.pictures[0]!.data, karras.pictures[0]!.data)).toBe(0);
    expect(differs(asGiven.pictures[0]!.data, plain.pictures[0]!.data)).toBeGreaterThan(0);
  });

  it.each(['dpm2_a', 'dpmpp_2m_sde'] as const)(
    'the stochastic %s sampler draws its step noise from the seed: another seed, another picture',
    async (sampler) => {
      const a = await render({ sampler, seed: 77 });
      const b = await render({ sampler, seed: 78 });
      expect(differs(a.pictures[0]!.data, b.pictures[0]!.data)).toBeGreaterThan(0.1);
    },
  );

  it.each(['heun', 'dpm2', 'dpm2_a'] as const)(
    'runs the second-order %s sampler’s two model evaluations per step and reports each',
    async (sampler) => {
      const steps: Array<[number, number]> = [];
      await generatePictures(tinyRequest({ sampler, steps: 4 }), {
        ...options(),
        onProgress: (done, total) => steps.push([done, total]),
      });
      expect(steps.at(-1)).toEqual([7, 7]);
    },
  );

  it.each([
    ['tiny', 'int64 [B] timestep, int32 ids'],
    ['tiny-float-timestep', 'float32 [B] timestep, int64 ids'],
    ['tiny-scalar-timestep', 'float32 scalar timestep'],
    ['tiny-fp16', 'fp16 inputs and outputs (Uint16Array)'],
  ])('reads the dtypes of %s (%s) from the session metadata', async (model) => {
    const out = await render({ model });
    expect(out.pictures[0]!.data.length).toBe(64 * 64 * 3);
  });

  it('gives the same picture from the fp16 export as from the fp32 one, within fp16 rounding', async () => {
    const full = await render({ model: 'tiny', seed: 9 });
    const half = await render({ model: 'tiny-fp16', seed: 9 });
    let worst = 0;
    const a = full.pictures[0]!.data;
    const b = half.pictures[0]!.data;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeLessThanOrEqual(6);
  });

  it('reads latent channels and the VAE factor from the model (12 channels, factor 2, v-prediction)', async () => {
    const out = await render({ model: 'tiny-pixel', width: 64, height: 32 });
    expect([out.pictures[0]!.width, out.pictures[0]!.height]).toEqual([64, 32]);
    expect(out.model?.latentChannels).toBe(12);
    expect(out.model?.vaeScaleFactor).toBe(2);
  });

  it('draws freely with an inpainting (9-channel) UNet when there is no mask', async () => {
    const out = await render({ model: 'tiny-inpaint' });
    expect(out.model?.unetInChannels).toBe(9);
    expect(out.pictures[0]!.data.length).toBe(64 * 64 * 3);
  });

  it('refuses other sizes, naming the one it renders, for a UNet exported with a fixed size', async () => {
    expect((await render({ model: 'tiny-fixed' })).pictures[0]!.width).toBe(64);
    await expect(render({ model: 'tiny-fixed', width: 128 })).rejects.toThrow(
      'width: tiny-fixed renders only 64x64',
    );
  });

  it('loads each model once and reuses its sessions', async () => {
    const first = await world.store.diffusionModel(world.catalog.models[0]!, false);
    const second = await world.store.diffusionModel(world.catalog.models[0]!, false);
    expect(second.model).toBe(first.model);
    expect(second.loadMs).toBe(0);
  });

  it('tells which words were cut past the 77-token window', async () => {
    const words = Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? 'red' : 'circle'));
    const out = await render({ prompt: `${words.join(' ')} dragon castle` });
    // 82 one-token words, 75 fit between the start and end tokens: words 76 to 82 are cut.
    expect(out.truncatedWords).toEqual(['circle', 'red', 'circle', 'red', 'circle', 'dragon', 'castle']);
    const short = await render({ prompt: 'a red circle' });
    expect(short.truncatedWords).toEqual([]);
  });

  it('stops between steps when the job is cancelled', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const promise = generatePictures(tinyRequest({ steps: 10 }), {
      ...options(),
      signal: controller.signal,
      onProgress: (done) => {
        steps.push(done);
        if (done === 3) controller.abort();
      },
    });
    await expect(promise).rejects.toThrow(/cancelled/);
    expect(steps).toEqual([1, 2, 3]);
  });
});
