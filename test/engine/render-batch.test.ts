import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchKey } from '../../src/engine/batch-key.ts';
import { DenoiseRendezvous } from '../../src/engine/denoise-rendezvous.ts';
import { NO_BUILTINS } from '../../src/engine/engine-settings.ts';
import { type GenerateOptions, generatePictures } from '../../src/engine/generate-pictures.ts';
import { ModelStore } from '../../src/engine/model-store.ts';
import { writeTinyModel } from '../../src/engine/tiny/tiny-model-folder.ts';
import { createLogger } from '../../src/log/logger.ts';
import { isInstalled } from '../../src/models/model-folder.ts';
import { findModel, loadRegistry } from '../../src/models/registry.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { type TinyWorld, tinyEntry, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

let world: TinyWorld;
const pictures = new Map<string, Buffer>();

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny', 'tiny-inpaint'] });
  // Exported for one guided image: a UNet batch of exactly 2.
  await writeTinyModel(join(world.modelsDir, 'tiny-fixed-batch'), { fixedBatch: 2 });
  world.catalog.models.push(tinyEntry('tiny-fixed-batch'));
  pictures.set('blue', await png('#3366cc'));
  pictures.set('red', await png('#cc3322'));
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

async function png(colour: string): Promise<Buffer> {
  return sharp({ create: { width: 80, height: 64, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

function options(store: ModelStore, extra: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    store,
    catalog: world.catalog,
    maxPixels: 1536 * 1536,
    images: {
      load: async (artifactId, field) => {
        const bytes = pictures.get(artifactId);
        if (bytes === undefined) throw new Error(`${field}: no picture ${artifactId}`);
        return bytes;
      },
    },
    ...extra,
  };
}

/** Each request alone, then all of them through one rendezvous; the lanes each batch run held. */
async function aloneAndTogether(requests: GenerationRequest[], store = world.store) {
  const alone = [];
  for (const request of requests) alone.push(await generatePictures(request, options(store)));
  const groups: number[] = [];
  const rendezvous = new DenoiseRendezvous(requests.length, (lanes) => groups.push(lanes));
  const together = await Promise.all(
    requests.map(async (request) => {
      try {
        return await generatePictures(request, options(store, { denoise: rendezvous.denoise }));
      } finally {
        rendezvous.leave();
      }
    }),
  );
  return { alone, together, groups };
}

function expectSamePixels(
  alone: Awaited<ReturnType<typeof generatePictures>>[],
  together: Awaited<ReturnType<typeof generatePictures>>[],
): void {
  expect(together).toHaveLength(alone.length);
  together.forEach((result, i) => {
    expect(result.seeds).toEqual(alone[i]!.seeds);
    expect(result.pictures).toHaveLength(alone[i]!.pictures.length);
    result.pictures.forEach((picture, k) => {
      expect(Buffer.compare(picture.data, alone[i]!.pictures[k]!.data)).toBe(0);
    });
  });
}

describe('denoising several jobs as one batch', () => {
  it('gives every job the pixels it gets alone: own prompt, seed, guidance and count', async () => {
    const requests = [
      tinyRequest({ prompt: 'a red circle', seed: 11, guidance: 5 }),
      tinyRequest({ prompt: 'a green square on grey', negativePrompt: '', seed: 900, guidance: 9, count: 3 }),
      tinyRequest({ prompt: 'two blue stripes', seed: 5, guidance: 2.5, count: 2 }),
      tinyRequest({ prompt: 'a yellow sun', seed: 77777, guidance: 7 }),
    ];
    const { alone, together, groups } = await aloneAndTogether(requests);
    expect(groups).toEqual([4]);
    expectSamePixels(alone, together);
    // Not one picture four times: the jobs differ from each other.
    expect(Buffer.compare(together[0]!.pictures[0]!.data, together[3]!.pictures[0]!.data)).not.toBe(0);
  });

  it('is exact for samplers that draw noise at each step and for multistep ones', async () => {
    for (const sampler of ['euler_a', 'dpmpp_2m', 'dpmpp_2m_sde_karras'] as const) {
      const requests = [1, 2, 3].map((seed) =>
        tinyRequest({ sampler, seed, prompt: `picture ${seed}`, steps: 5 }),
      );
      const { alone, together, groups } = await aloneAndTogether(requests);
      expect(groups).toEqual([3]);
      expectSamePixels(alone, together);
    }
  });

  it('is exact with onnxruntime on two threads', async () => {
    const store = new ModelStore(
      { ...world.store.settings, threads: 2 },
      world.catalog,
      createLogger('silent'),
    );
    try {
      const requests = [1, 2, 3, 4].map((seed) => tinyRequest({ seed, prompt: `two threads ${seed}` }));
      const { alone, together } = await aloneAndTogether(requests, store);
      expectSamePixels(alone, together);
    } finally {
      await store.release();
    }
  });

  it('batches img2img jobs with their own pictures, and inpainting on a 9-channel UNet', async () => {
    const img2img = [
      tinyRequest({ mode: 'img2img', initImage: { artifactId: 'blue' }, strength: 0.6, seed: 3 }),
      tinyRequest({ mode: 'img2img', initImage: { artifactId: 'red' }, strength: 0.6, seed: 4 }),
    ];
    const first = await aloneAndTogether(img2img);
    expect(first.groups).toEqual([2]);
    expectSamePixels(first.alone, first.together);

    const region = { x: 25, y: 25, w: 50, h: 50 };
    const inpaint = [
      tinyRequest({ mode: 'inpaint', model: 'tiny-inpaint', initImage: { artifactId: 'blue' }, region }),
      tinyRequest({
        mode: 'inpaint',
        model: 'tiny-inpaint',
        initImage: { artifactId: 'red' },
        region: { ...region, invert: true },
      }),
    ];
    const second = await aloneAndTogether(inpaint);
    expect(second.groups).toEqual([2]);
    expectSamePixels(second.alone, second.together);
  });

  const mini = findModel(loadRegistry(), 'easel-mini')!;
  it.skipIf(!isInstalled(mini, '/nonexistent'))(
    'is exact on the trained easel-mini model, with its own UNet, text encoder and VAE',
    async () => {
      const catalog = loadRegistry();
      const store = new ModelStore(
        { modelsDir: '/nonexistent', providers: ['cpu'], threads: 2, builtin: NO_BUILTINS },
        catalog,
        createLogger('silent'),
      );
      const miniOptions = (extra: Partial<GenerateOptions> = {}): GenerateOptions => ({
        ...options(store, extra),
        catalog,
      });
      try {
        const requests = [
          tinyRequest({ model: 'easel-mini', prompt: 'a red circle on a blue background', seed: 1 }),
          tinyRequest({ model: 'easel-mini', prompt: 'a white square on a black background', seed: 2 }),
          tinyRequest({ model: 'easel-mini', prompt: 'a green triangle on a yellow background', seed: 3 }),
        ].map((r) => ({ ...r, width: 512, height: 512, steps: 10, sampler: 'ddim' as const }));
        const alone = [];
        for (const request of requests) alone.push(await generatePictures(request, miniOptions()));
        const groups: number[] = [];
        const rendezvous = new DenoiseRendezvous(requests.length, (lanes) => groups.push(lanes));
        const together = await Promise.all(
          requests.map(async (request) => {
            try {
              return await generatePictures(request, miniOptions({ denoise: rendezvous.denoise }));
            } finally {
              rendezvous.leave();
            }
          }),
        );
        expect(groups).toEqual([3]);
        expectSamePixels(alone, together);
      } finally {
        await store.release();
      }
    },
  );

  it('runs the jobs one at a time on a UNet exported with a fixed batch, with the same pixels', async () => {
    const requests = [5, 6, 7].map((seed) =>
      tinyRequest({ model: 'tiny-fixed-batch', seed, prompt: `fixed ${seed}` }),
    );
    const { alone, together, groups } = await aloneAndTogether(requests);
    expect(groups).toEqual([1, 1, 1]);
    expectSamePixels(alone, together);
  });

  it('lets the others finish when one job fails before the denoising', async () => {
    const requests = [
      tinyRequest({ mode: 'img2img', initImage: { artifactId: 'blue' }, strength: 0.6, seed: 3 }),
      tinyRequest({ mode: 'img2img', initImage: { artifactId: 'missing' }, strength: 0.6, seed: 4 }),
      tinyRequest({ mode: 'img2img', initImage: { artifactId: 'red' }, strength: 0.6, seed: 5 }),
    ];
    const groups: number[] = [];
    const rendezvous = new DenoiseRendezvous(requests.length, (lanes) => groups.push(lanes));
    const settled = await Promise.allSettled(
      requests.map(async (request) => {
        try {
          return await generatePictures(request, options(world.store, { denoise: rendezvous.denoise }));
        } finally {
          rendezvous.leave();
        }
      }),
    );
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/initImage: no picture missing/);
    expect(groups).toEqual([2]);
  });

  it('drops a cancelled job between steps and finishes the others as they are alone', async () => {
    const requests = [1, 2, 3].map((seed) => tinyRequest({ seed, steps: 8, prompt: `cancel ${seed}` }));
    const alone = [];
    for (const request of requests) alone.push(await generatePictures(request, options(world.store)));
    const cancel = new AbortController();
    const rendezvous = new DenoiseRendezvous(requests.length);
    const steps: number[] = [];
    const settled = await Promise.allSettled(
      requests.map(async (request, i) => {
        const extra: Partial<GenerateOptions> = { denoise: rendezvous.denoise };
        if (i === 1) {
          extra.signal = cancel.signal;
          extra.onProgress = (done) => {
            steps.push(done);
            if (done === 3) cancel.abort();
          };
        }
        try {
          return await generatePictures(request, options(world.store, extra));
        } finally {
          rendezvous.leave();
        }
      }),
    );
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.name).toBe('RenderCancelled');
    expect(steps).toEqual([1, 2, 3]);
    for (const i of [0, 2]) {
      const picture = (settled[i] as PromiseFulfilledResult<Awaited<ReturnType<typeof generatePictures>>>)
        .value.pictures[0]!;
      expect(Buffer.compare(picture.data, alone[i]!.pictures[0]!.data)).toBe(0);
    }
  });
});

describe('batchKey', () => {
  const base = tinyRequest();
  it('is the same for jobs that differ only in what each job keeps to itself', () => {
    const other = tinyRequest({ prompt: 'else', negativePrompt: '', seed: 9, guidance: 11, count: 4 });
    expect(batchKey(other)).toBe(batchKey(base));
  });

  it('differs for each thing that changes the UNet run', () => {
    const changes: Partial<GenerationRequest>[] = [
      { model: 'tiny-inpaint' },
      { width: 128 },
      { height: 128 },
      { steps: 5 },
      { sampler: 'euler_a' },
      { mode: 'img2img', strength: 0.5 },
      { guidance: 1 },
    ];
    for (const change of changes) expect(batchKey(tinyRequest(change))).not.toBe(batchKey(base));
    const img2img = tinyRequest({ mode: 'img2img', strength: 0.5 });
    expect(batchKey(tinyRequest({ mode: 'img2img', strength: 0.6 }))).not.toBe(batchKey(img2img));
    const withLoras: GenerationRequest = { ...base, loras: [{ name: 'ink', strength: 0.8 }] };
    expect(batchKey(withLoras)).not.toBe(batchKey(base));
  });

  it('leaves upscales out', () => {
    expect(batchKey(tinyRequest({ mode: 'upscale', upscale: 2 }))).toBeUndefined();
  });
});
