import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromA1111Body } from '../../src/api/faces/a1111/a1111-request.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { computeCost } from '../../src/credits/cost.ts';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import { resizeLatents } from '../../src/engine/hires-fix.ts';
import { readPngText } from '../../src/engine/png-text.ts';
import { createRenderer } from '../../src/engine/render-job.ts';
import { createLogger } from '../../src/log/logger.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import type { GenerationRequest, HiresFix } from '../../src/request/types.ts';
import { validateRequest } from '../../src/request/validate-request.ts';
import { type TinyWorld, tinyEntry, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

/** The hi-res fix: requests that ask for it, the two passes on the tiny model, its price and infotext. */
let world: TinyWorld;

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny'], upscaler: true });
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

const HIRES: HiresFix = { scale: 2, width: 128, height: 128, steps: 3, denoise: 0.5, upscaler: 'latent' };

function render(request: Partial<GenerationRequest>, onProgress?: (done: number, total: number) => void) {
  return generatePictures(tinyRequest(request), {
    store: world.store,
    catalog: world.catalog,
    images: { load: async () => Buffer.alloc(0) },
    maxPixels: 1 << 22,
    ...(onProgress !== undefined ? { onProgress } : {}),
  });
}

const registry = {
  models: [tinyEntry('tiny', { nativeResolution: 512, limits: { minSteps: 1, maxSteps: 50 } })],
};
const validate = (raw: ReturnType<typeof parsePromptFlags>) =>
  validateRequest(raw, {
    registry,
    defaultModel: 'tiny',
    randomSeed: () => 7,
    limits: { maxPixels: 1536 * 1536 },
  });

describe('the hi-res fix', () => {
  it('reads --hires 2 and A1111 enable_hr with its fields, and refuses what it cannot do by name', () => {
    const chat = validate(parsePromptFlags('a cat --hires 2 --steps 20'));
    expect(chat.ok && chat.request.hires).toEqual({
      scale: 2,
      width: 1024,
      height: 1024,
      steps: 20,
      denoise: 0.7,
      upscaler: 'latent',
    });
    const a1111 = fromA1111Body(
      {
        prompt: 'a cat',
        enable_hr: true,
        hr_scale: 1.5,
        hr_second_pass_steps: 10,
        denoising_strength: 0.4,
        hr_upscaler: 'Latent (nearest)',
      },
      'txt2img',
    );
    const read = validate(a1111.raw);
    expect(read.ok && read.request.hires).toEqual({
      scale: 1.5,
      width: 768,
      height: 768,
      steps: 10,
      denoise: 0.4,
      upscaler: 'latent-nearest',
    });
    const tooBig = validate(parsePromptFlags('a cat --hires 5'));
    expect(!tooBig.ok && tooBig.errors.map((e) => e.message)).toEqual([
      '--hires: must be a scale from 1 to 4, e.g. 2 (got "5")',
    ]);
    const over = validate(parsePromptFlags('a cat --ar 16:9 --hires 3'));
    expect(!over.ok && over.errors[0]!.message).toBe(
      '--hires: 704x384 times 3 is 2112x1152, over 2048 a side; use a smaller scale',
    );
    const upscaler = validate({
      ...fromA1111Body({ prompt: 'a', enable_hr: true, hr_upscaler: 'Magic' }, 'txt2img').raw,
    });
    expect(!upscaler.ok && upscaler.errors[0]!.message).toBe(
      'hr_upscaler: must be Latent, Latent (nearest), Lanczos or an ESRGAN upscaler (R-ESRGAN 4x+) (got "Magic")',
    );
  });

  it('charges the second pass on top of the first', () => {
    const rates = { perImage: 1, upscale2x: 1, upscale4x: 2, zoomOut: 1 };
    const base = { mode: 'txt2img' as const, width: 512, height: 512, steps: 25, count: 1 };
    expect(computeCost(base, rates)).toBe(1);
    // 1 for 512x512x25, then 1024x1024 at 25 steps x 0.7 = 2.8 more.
    expect(
      computeCost(
        { ...base, hires: { ...HIRES, width: 1024, height: 1024, steps: 25, denoise: 0.7 } },
        rates,
      ),
    ).toBe(4);
  });

  it('renders at the first size, then at the target size with each upscaler, progress running through both passes', async () => {
    const plain = await render({});
    for (const upscaler of ['latent', 'latent-nearest', 'lanczos', 'upscaler'] as const) {
      const seen: [number, number][] = [];
      const out = await render({ hires: { ...HIRES, upscaler } }, (done, total) => seen.push([done, total]));
      expect([out.pictures[0]!.width, out.pictures[0]!.height]).toEqual([128, 128]);
      expect(seen.every(([, total]) => total === 4 + 3)).toBe(true);
      expect(seen.at(-1)).toEqual([7, 7]);
      expect(seen.map(([done]) => done)).toEqual([...seen.map(([done]) => done)].sort((a, b) => a - b));
    }
    expect([plain.pictures[0]!.width, plain.pictures[0]!.height]).toEqual([64, 64]);
  });

  it('renders an API request of more than four images in groups of four through both passes', async () => {
    const seen: [number, number][] = [];
    const out = await render({ count: 6, seed: 900, hires: HIRES }, (done, total) =>
      seen.push([done, total]),
    );
    expect(out.pictures).toHaveLength(6);
    expect(out.seeds).toEqual([900, 901, 902, 903, 904, 905]);
    // Two groups of both passes (4 + 3 steps each), counted as one run.
    expect(seen.at(-1)).toEqual([14, 14]);
    expect(seen.map(([done]) => done)).toEqual([...seen.map(([done]) => done)].sort((a, b) => a - b));
    const alone = await render({ count: 2, seed: 904, hires: HIRES });
    expect(Buffer.compare(out.pictures[4]!.data, alone.pictures[0]!.data)).toBe(0);
    expect(Buffer.compare(out.pictures[5]!.data, alone.pictures[1]!.data)).toBe(0);
  });

  it('enlarges latents bilinearly with half-pixel centres, as torch interpolate does', () => {
    const up = resizeLatents(
      Float32Array.of(0, 1, 2, 3),
      1,
      1,
      { latentWidth: 2, latentHeight: 2 },
      { latentWidth: 4, latentHeight: 4 },
      'bilinear',
    );
    expect(Array.from(up.subarray(0, 4))).toEqual([0, 0.25, 0.75, 1]);
    const near = resizeLatents(
      Float32Array.of(0, 1, 2, 3),
      1,
      1,
      { latentWidth: 2, latentHeight: 2 },
      { latentWidth: 4, latentHeight: 4 },
      'nearest',
    );
    expect(Array.from(near.subarray(0, 4))).toEqual([0, 0, 1, 1]);
  });

  it('writes the first size and the hi-res fields into the PNG as A1111 does', async () => {
    const artifacts = new DiskArtifactStore(`${world.modelsDir}/artifacts`);
    const renderJob = createRenderer({
      store: world.store,
      catalog: world.catalog,
      artifacts,
      settings: {
        maxPixels: 1 << 22,
        nsfwScreening: 'off',
        nsfwThreshold: 0.5,
        nsfwjsThresholds: { porn: 0.5, hentai: 0.5, sexy: 0.8 },
      },
    });
    const result = await renderJob(
      {
        v: 1,
        requestId: 'r',
        request: tinyRequest({ hires: HIRES }),
        member: { scope: { kind: 'cli', id: 'local' }, userId: 'me' },
        origin: { platform: 'cli' },
        cost: 1,
        createdAt: Date.now(),
      },
      {
        jobId: 'j',
        signal: new AbortController().signal,
        reportProgress: async () => {},
        logger: createLogger('silent'),
      },
    );
    expect([result.images[0]!.width, result.images[0]!.height]).toEqual([128, 128]);
    const png = (await artifacts.get(result.images[0]!.artifactId))!.bytes;
    expect(readPngText(png).parameters).toMatch(
      /, Size: 64x64, Model: tiny, Denoising strength: 0\.5, Hires upscale: 2, Hires steps: 3, Hires upscaler: Latent, Version: easel$/,
    );
  });
});
