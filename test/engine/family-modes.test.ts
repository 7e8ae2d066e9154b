import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import type { RgbImage } from '../../src/engine/image-io.ts';
import { panCanvas, zoomOutCanvas } from '../../src/engine/masks.ts';
import type { TinyFamily } from '../../src/engine/tiny/tiny-families.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { familyEntry, familyOptions, familyRequest, familyWorld } from '../support/tiny-families.ts';
import type { TinyWorld } from '../support/tiny-models.ts';

/**
 * Every mode in every family, through generatePictures on the tiny family folders: the shared
 * loop, modes and seeds with each family's conditioning, denoiser and VAE.
 */
const FAMILIES: TinyFamily[] = ['sd2', 'sd2-v', 'sdxl', 'sdxl-turbo', 'sd3', 'sd3-no-t5'];
let world: TinyWorld;
const pictures: Record<string, Buffer> = {};

beforeAll(async () => {
  world = await familyWorld();
  const side = 64;
  const data = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const q = (x < side / 2 ? 0 : 1) + (y < side / 2 ? 0 : 2);
      data.set(
        [
          [200, 40, 40],
          [40, 180, 60],
          [40, 60, 200],
          [220, 200, 40],
        ][q]!,
        (y * side + x) * 3,
      );
    }
  }
  pictures.quadrants = await sharp(data, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
  const mask = Buffer.alloc(side * side, 0);
  for (let y = 16; y < 48; y++) mask.fill(255, y * side + 16, y * side + 48);
  pictures.mask = await sharp(mask, { raw: { width: side, height: side, channels: 1 } })
    .png()
    .toBuffer();
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

const init = { artifactId: 'quadrants' };

function render(family: TinyFamily, overrides: Partial<GenerationRequest> = {}) {
  return generatePictures(familyRequest(family, overrides), familyOptions(world, pictures));
}

async function quadrants(): Promise<RgbImage> {
  const { data, info } = await sharp(pictures.quadrants!).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function meanDifference(a: RgbImage, b: RgbImage): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

function regionDifference(a: RgbImage, b: RgbImage, [x0, y0, x1, y1]: number[]): number {
  let sum = 0;
  let n = 0;
  for (let y = y0!; y < y1!; y++) {
    for (let x = x0!; x < x1!; x++) {
      for (let c = 0; c < 3; c++)
        sum += Math.abs(a.data[(y * a.width + x) * 3 + c]! - b.data[(y * b.width + x) * 3 + c]!);
      n += 3;
    }
  }
  return sum / n;
}

describe.each(FAMILIES)('%s', (family) => {
  it('detects its family from model_index.json', async () => {
    const { model } = await world.store.diffusionModel(familyEntry(family), false);
    expect(model.layout.family).toBe(
      family.startsWith('sd3') ? 'sd3' : family.startsWith('sdxl') ? 'sdxl' : 'sd2',
    );
    expect(model.latentChannels).toBe(family.startsWith('sd3') ? 16 : 4);
    // The denoiser's weights are in an external file, named as each exporter names it.
    const external = family.startsWith('sd3')
      ? 'model.onnx_data'
      : family.startsWith('sdxl')
        ? 'weights.pb'
        : 'model.onnx.data';
    const folder = join(model.dir, model.denoiser.part);
    expect(readdirSync(folder)).toContain(external);
    expect(statSync(join(folder, external)).size).toBeGreaterThan(statSync(join(folder, 'model.onnx')).size);
  });

  it('txt2img: the same seed gives the same pixels, another seed others', async () => {
    const a = await render(family, { seed: 7, count: 2 });
    const b = await render(family, { seed: 7, count: 2 });
    const c = await render(family, { seed: 8 });
    expect(a.pictures).toHaveLength(2);
    expect([a.pictures[0]!.width, a.pictures[0]!.height]).toEqual([64, 64]);
    expect(Buffer.compare(a.pictures[0]!.data, b.pictures[0]!.data)).toBe(0);
    expect(Buffer.compare(a.pictures[1]!.data, b.pictures[1]!.data)).toBe(0);
    // Image 1 of seed 7 is drawn with seed 8.
    expect(Buffer.compare(a.pictures[1]!.data, c.pictures[0]!.data)).toBe(0);
    expect(meanDifference(a.pictures[0]!, a.pictures[1]!)).toBeGreaterThan(0.5);
  });

  it('img2img and variation stay closer to the picture at a low strength than at a high one', async () => {
    const original = await quadrants();
    const steps = 10;
    const low = await render(family, { mode: 'img2img', initImage: init, strength: 0.2, steps });
    const high = await render(family, { mode: 'img2img', initImage: init, strength: 0.9, steps });
    expect(low.strength).toBe(0.2);
    expect(meanDifference(low.pictures[0]!, original)).toBeLessThan(
      meanDifference(high.pictures[0]!, original),
    );
    const variation = await render(family, { mode: 'variation', initImage: init, steps });
    expect(variation.strength).toBe(0.65);
    expect(meanDifference(variation.pictures[0]!, original)).toBeGreaterThan(0);
  });

  it('inpaint keeps the unmasked area and repaints the masked one (latent blending)', async () => {
    const original = await quadrants();
    const out = await render(family, { mode: 'inpaint', initImage: init, maskImage: { artifactId: 'mask' } });
    expect(regionDifference(out.pictures[0]!, original, [0, 0, 64, 8])).toBe(0);
    expect(regionDifference(out.pictures[0]!, original, [20, 20, 44, 44])).toBeGreaterThan(3);
  });

  it('zoom out and pan draw around the picture kept in place', async () => {
    const zoom = await render(family, { mode: 'outpaint', initImage: init, zoomOut: 2 });
    expect([zoom.pictures[0]!.width, zoom.pictures[0]!.height]).toEqual([64, 64]);
    const pan = await render(family, {
      mode: 'outpaint',
      initImage: init,
      pan: 'right',
      width: 96,
      height: 64,
    });
    expect([pan.pictures[0]!.width, pan.pictures[0]!.height]).toEqual([96, 64]);
    const original = await quadrants();
    const { canvas: zoomCanvas } = await zoomOutCanvas(original, 2);
    expect(regionDifference(zoom.pictures[0]!, zoomCanvas, [26, 26, 38, 38])).toBe(0);
    expect(regionDifference(zoom.pictures[0]!, zoomCanvas, [0, 0, 64, 4])).toBeGreaterThan(1);
    const { canvas: panned } = await panCanvas(original, 96, 64, 'right');
    expect(regionDifference(pan.pictures[0]!, panned, [0, 0, 60, 64])).toBe(0);
    expect(regionDifference(pan.pictures[0]!, panned, [70, 0, 96, 64])).toBeGreaterThan(1);
  });

  it('upscales with Lanczos and the detail pass of this family', async () => {
    const out = await render(family, { mode: 'upscale', initImage: init, upscale: 2 });
    expect([out.pictures[0]!.width, out.pictures[0]!.height]).toEqual([128, 128]);
    expect(out.strength).toBe(0.3);
    expect(out.model?.layout.family).toBeDefined();
  });
});

describe('SDXL specifics', () => {
  it('inpaints with a 9-channel UNet where installed: mask and masked-picture latents reach it', async () => {
    const { model } = await world.store.diffusionModel(familyEntry('sdxl-inpaint'), true);
    expect(model.unetInChannels).toBe(9);
    const run = vi.spyOn(model.denoiser.session, 'run');
    try {
      const original = await quadrants();
      const out = await render('sdxl-inpaint', {
        mode: 'inpaint',
        initImage: init,
        maskImage: { artifactId: 'mask' },
      });
      expect(regionDifference(out.pictures[0]!, original, [0, 0, 64, 8])).toBe(0);
      const sample = (
        run.mock.calls[0]![0] as Record<string, { dims: readonly number[]; data: Float32Array }>
      ).sample!;
      expect(sample.dims).toEqual([2, 9, 8, 8]);
      // Channel 4 is the mask: 1 in the middle of the latent, 0 at its corner.
      const plane = 64;
      expect(sample.data[4 * plane + 4 * 8 + 4]).toBe(1);
      expect(sample.data[4 * plane]).toBe(0);
    } finally {
      run.mockRestore();
    }
  });

  it('the refiner runs as a second stage on the base’s latents and changes the pictures', async () => {
    const { model: refiner } = await world.store.diffusionModel(familyEntry('sdxl-refiner'), false);
    const run = vi.spyOn(refiner.denoiser.session, 'run');
    try {
      const base = await render('sdxl', { seed: 3, steps: 10 });
      expect(run).not.toHaveBeenCalled();
      const refined = await generatePictures(
        familyRequest('sdxl', { model: 'tiny-sdxl-refined', seed: 3, steps: 10 }),
        familyOptions(world, pictures),
      );
      // img2img at strength 0.3 of 10 steps: 3 refiner steps, each one batch of two.
      expect(run).toHaveBeenCalledTimes(3);
      const feeds = run.mock.calls[0]![0] as Record<string, { dims: readonly number[]; data: Float32Array }>;
      expect(feeds.time_ids!.dims).toEqual([2, 5]);
      expect(meanDifference(base.pictures[0]!, refined.pictures[0]!)).toBeGreaterThan(0);
      const again = await generatePictures(
        familyRequest('sdxl', { model: 'tiny-sdxl-refined', seed: 3, steps: 10 }),
        familyOptions(world, pictures),
      );
      expect(Buffer.compare(again.pictures[0]!.data, refined.pictures[0]!.data)).toBe(0);
    } finally {
      run.mockRestore();
    }
  });

  it('SDXL-Turbo renders in one step without guidance: one UNet run of batch one', async () => {
    const { model } = await world.store.diffusionModel(familyEntry('sdxl-turbo'), false);
    const run = vi.spyOn(model.denoiser.session, 'run');
    try {
      await render('sdxl-turbo', { steps: 1, guidance: 0 });
      expect(run).toHaveBeenCalledTimes(1);
      const feeds = run.mock.calls[0]![0] as Record<string, { dims: readonly number[] }>;
      expect(feeds.sample!.dims).toEqual([1, 4, 8, 8]);
    } finally {
      run.mockRestore();
    }
  });
});

describe('SD 2 v-prediction', () => {
  it("reads v_prediction from the 768 model's scheduler config, and it changes the result", async () => {
    const { model } = await world.store.diffusionModel(familyEntry('sd2-v'), false);
    expect(model.layout.predictionType).toBe('v_prediction');
    // The same folder told it predicts epsilon draws something else from the same seed.
    const copy = join(world.modelsDir, 'tiny-sd2-eps');
    cpSync(join(world.modelsDir, 'tiny-sd2-v'), copy, { recursive: true });
    const configFile = join(copy, 'scheduler', 'scheduler_config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, prediction_type: 'epsilon' }));
    world.catalog.models.push(familyEntry('sd2-v', { id: 'tiny-sd2-eps', folder: 'tiny-sd2-eps' }));
    const v = await render('sd2-v', { sampler: 'ddim', seed: 11 });
    const eps = await generatePictures(
      familyRequest('sd2-v', { model: 'tiny-sd2-eps', sampler: 'ddim', seed: 11 }),
      familyOptions(world, pictures),
    );
    expect(meanDifference(v.pictures[0]!, eps.pictures[0]!)).toBeGreaterThan(1);
  });
});

describe('fp16 exports', () => {
  it('run with fp16 inputs and outputs and draw what the fp32 export draws, to fp16 rounding', async () => {
    const half = await familyWorld({ families: ['sdxl', 'sd3'], folder: { dtype: 'float16' } });
    try {
      for (const family of ['sdxl', 'sd3'] as const) {
        const { model } = await half.store.diffusionModel(familyEntry(family), false);
        expect(model.denoiser.inputs.sample!.type).toBe('float16');
        expect(model.denoiser.inputs.encoder_hidden_states!.type).toBe('float16');
        const fp16 = await generatePictures(familyRequest(family), familyOptions(half));
        const fp32 = await render(family);
        expect(meanDifference(fp16.pictures[0]!, fp32.pictures[0]!)).toBeLessThan(3);
      }
    } finally {
      await half.store.release();
      await rm(half.modelsDir, { recursive: true, force: true });
    }
  });
});
