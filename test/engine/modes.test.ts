import { rm } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GenerateOptions, generatePictures } from '../../src/engine/generate-pictures.ts';
import type { RgbImage } from '../../src/engine/image-io.ts';
import { panCanvas, zoomOutCanvas } from '../../src/engine/masks.ts';
import { upscaleTiled } from '../../src/engine/tiled-upscale.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { type TinyWorld, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

let world: TinyWorld;
let worldWithoutUpscaler: TinyWorld;
const uploads = new Map<string, Buffer>();

beforeAll(async () => {
  world = await tinyWorld({ upscaler: true, variants: ['tiny', 'tiny-inpaint', 'tiny-pixel'] });
  worldWithoutUpscaler = await tinyWorld({ variants: ['tiny'] });
  // A picture with structure: four coloured quadrants and a diagonal stripe.
  const side = 64;
  const data = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 3;
      const q = (x < side / 2 ? 0 : 1) + (y < side / 2 ? 0 : 2);
      const colours = [
        [200, 40, 40],
        [40, 180, 60],
        [40, 60, 200],
        [220, 200, 40],
      ][q]!;
      const stripe = Math.abs(x - y) < 3 ? 255 : 0;
      data[i] = Math.max(colours[0]!, stripe);
      data[i + 1] = Math.max(colours[1]!, stripe);
      data[i + 2] = Math.max(colours[2]!, stripe);
    }
  }
  uploads.set(
    'quadrants',
    await sharp(data, { raw: { width: side, height: side, channels: 3 } })
      .png()
      .toBuffer(),
  );
  const mask = Buffer.alloc(side * side, 0);
  for (let y = 16; y < 48; y++) mask.fill(255, y * side + 16, y * side + 48);
  uploads.set(
    'centre-mask',
    await sharp(mask, { raw: { width: side, height: side, channels: 1 } })
      .png()
      .toBuffer(),
  );
  // OpenAI-style: opaque everywhere except a transparent hole where the picture is repainted.
  const rgba = Buffer.alloc(side * side * 4, 255);
  for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) rgba[(y * side + x) * 4 + 3] = 0;
  uploads.set(
    'alpha-mask',
    await sharp(rgba, { raw: { width: side, height: side, channels: 4 } })
      .png()
      .toBuffer(),
  );
});

afterAll(async () => {
  for (const w of [world, worldWithoutUpscaler]) {
    await w.store.release();
    await rm(w.modelsDir, { recursive: true, force: true });
  }
});

function options(w: TinyWorld = world): GenerateOptions {
  return {
    store: w.store,
    catalog: w.catalog,
    maxPixels: 512 * 512,
    images: {
      load: async (id) => {
        const bytes = uploads.get(id);
        if (bytes === undefined) throw new Error(`no upload ${id}`);
        return bytes;
      },
    },
  };
}

async function source(): Promise<RgbImage> {
  const { data, info } = await sharp(uploads.get('quadrants')!).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function meanDifference(a: RgbImage, b: RgbImage): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

/** Whether every pixel at least `margin` away from the box [x0,x1)x[y0,y1) is identical. */
function identicalOutside(
  a: RgbImage,
  b: RgbImage,
  box: [number, number, number, number],
  margin: number,
): boolean {
  const [x0, y0, x1, y1] = box;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (x >= x0 - margin && x < x1 + margin && y >= y0 - margin && y < y1 + margin) continue;
      const i = (y * a.width + x) * 3;
      for (let c = 0; c < 3; c++) if (a.data[i + c] !== b.data[i + c]) return false;
    }
  }
  return true;
}

function regionDifference(a: RgbImage, b: RgbImage, box: [number, number, number, number]): number {
  const [x0, y0, x1, y1] = box;
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * a.width + x) * 3;
      for (let c = 0; c < 3; c++) sum += Math.abs(a.data[i + c]! - b.data[i + c]!);
      n += 3;
    }
  }
  return sum / n;
}

const render = (overrides: Partial<GenerationRequest>, w?: TinyWorld) =>
  generatePictures(tinyRequest(overrides), options(w));
const init = { artifactId: 'quadrants' };

describe('img2img and variations', () => {
  it('stays closer to the picture at a low strength than at a high one', async () => {
    const original = await source();
    const low = await render({ mode: 'img2img', initImage: init, strength: 0.2, steps: 10 });
    const high = await render({ mode: 'img2img', initImage: init, strength: 0.9, steps: 10 });
    expect(low.strength).toBe(0.2);
    expect(meanDifference(low.pictures[0]!, original)).toBeLessThan(
      meanDifference(high.pictures[0]!, original),
    );
  });

  it.each([
    'heun',
    'lms_karras',
    'dpm_single',
    'dpm2_karras',
    'dpm2_a',
    'unipc',
    'deis',
    'dpmpp_2m_sde_karras',
  ] as const)(
    'starts part way with the %s sampler: closer to the picture at a low strength, deterministic',
    async (sampler) => {
      const original = await source();
      const low = await render({
        mode: 'img2img',
        initImage: init,
        strength: 0.2,
        steps: 10,
        sampler,
        seed: 3,
      });
      const again = await render({
        mode: 'img2img',
        initImage: init,
        strength: 0.2,
        steps: 10,
        sampler,
        seed: 3,
      });
      const high = await render({
        mode: 'img2img',
        initImage: init,
        strength: 0.9,
        steps: 10,
        sampler,
        seed: 3,
      });
      expect(meanDifference(low.pictures[0]!, original)).toBeLessThan(
        meanDifference(high.pictures[0]!, original),
      );
      expect(Buffer.compare(low.pictures[0]!.data, again.pictures[0]!.data)).toBe(0);
    },
  );

  it('is deterministic for the same seed', async () => {
    const a = await render({ mode: 'img2img', initImage: init, strength: 0.5, seed: 5 });
    const b = await render({ mode: 'img2img', initImage: init, strength: 0.5, seed: 5 });
    expect(Buffer.compare(a.pictures[0]!.data, b.pictures[0]!.data)).toBe(0);
  });

  it('makes subtle (0.35) variations closer to the source than strong (0.65) ones, strong by default', async () => {
    const original = await source();
    const subtle = await render({ mode: 'variation', initImage: init, strength: 0.35, steps: 20, seed: 9 });
    const strong = await render({ mode: 'variation', initImage: init, steps: 20, seed: 9 });
    expect(strong.strength).toBe(0.65);
    expect(meanDifference(subtle.pictures[0]!, original)).toBeLessThan(
      meanDifference(strong.pictures[0]!, original),
    );
  });

  it('resizes the picture to the requested size (cover)', async () => {
    const out = await render({ mode: 'img2img', initImage: init, strength: 0.5, width: 128, height: 64 });
    expect([out.pictures[0]!.width, out.pictures[0]!.height]).toEqual([128, 64]);
  });
});

describe('inpainting', () => {
  const centre: [number, number, number, number] = [16, 16, 48, 48];

  it.each([
    ['a 9-channel inpainting UNet', 'tiny-inpaint'],
    ['latent blending on an ordinary UNet', 'tiny'],
    ['12-channel latents, VAE factor 2', 'tiny-pixel'],
  ])('with %s repaints the mask and keeps every pixel outside it', async (_, model) => {
    const original = await source();
    const out = await render({
      mode: 'inpaint',
      model,
      initImage: init,
      maskImage: { artifactId: 'centre-mask' },
    });
    const picture = out.pictures[0]!;
    expect(identicalOutside(picture, original, centre, 4)).toBe(true);
    expect(regionDifference(picture, original, [20, 20, 44, 44])).toBeGreaterThan(5);
  });

  it('reads a transparent hole in an opaque mask as the area to repaint (OpenAI-style masks)', async () => {
    const original = await source();
    const out = await render({ mode: 'inpaint', initImage: init, maskImage: { artifactId: 'alpha-mask' } });
    expect(identicalOutside(out.pictures[0]!, original, centre, 4)).toBe(true);
    expect(regionDifference(out.pictures[0]!, original, [20, 20, 44, 44])).toBeGreaterThan(5);
  });

  it('builds the mask from a region in percent (chat inpainting)', async () => {
    const original = await source();
    const out = await render({ mode: 'inpaint', initImage: init, region: { x: 0, y: 0, w: 50, h: 50 } });
    expect(identicalOutside(out.pictures[0]!, original, [0, 0, 32, 32], 4)).toBe(true);
    expect(regionDifference(out.pictures[0]!, original, [0, 0, 28, 28])).toBeGreaterThan(5);
  });

  it('repaints everything but the centre for an inverted (background) region', async () => {
    const original = await source();
    const out = await render({
      mode: 'inpaint',
      initImage: init,
      region: { x: 25, y: 25, w: 50, h: 50, invert: true },
    });
    expect(regionDifference(out.pictures[0]!, original, [22, 22, 42, 42])).toBe(0);
    expect(regionDifference(out.pictures[0]!, original, [0, 0, 64, 10])).toBeGreaterThan(5);
  });

  it('refuses inpainting without a mask or a region', async () => {
    await expect(render({ mode: 'inpaint', initImage: init })).rejects.toThrow(
      /needs a mask image or a region/,
    );
  });
});

describe('zoom out (outpainting)', () => {
  it.each([1.5, 2] as const)(
    'shrinks the picture %sx into the middle and paints a new border',
    async (zoomOut) => {
      const original = await source();
      const out = await render({ mode: 'outpaint', initImage: init, zoomOut });
      const picture = out.pictures[0]!;
      expect([picture.width, picture.height]).toEqual([64, 64]);
      const { canvas } = await zoomOutCanvas(original, zoomOut);
      // The middle is the shrunken picture, untouched; the border is new.
      expect(regionDifference(picture, canvas, [26, 26, 38, 38])).toBe(0);
      expect(regionDifference(picture, canvas, [0, 0, 64, 4])).toBeGreaterThan(5);
    },
  );
});

describe('pan (outpainting one side)', () => {
  it.each([
    ['right', [96, 64], [0, 0, 60, 64], [70, 0, 96, 64]],
    ['left', [96, 64], [36, 0, 96, 64], [0, 0, 26, 64]],
    ['down', [64, 96], [0, 0, 64, 60], [0, 70, 64, 96]],
    ['up', [64, 96], [0, 36, 64, 96], [0, 0, 64, 26]],
  ] as const)(
    'pans %s: the picture keeps its place and size, the new side is painted',
    async (pan, [width, height], kept, painted) => {
      const original = await source();
      const out = await render({ mode: 'outpaint', initImage: init, pan, width, height });
      const picture = out.pictures[0]!;
      expect([picture.width, picture.height]).toEqual([width, height]);
      const { canvas, mask } = await panCanvas(original, width, height, pan);
      expect([mask.width, mask.height]).toEqual([width, height]);
      // The kept part is the picture, untouched; the new side is the model's.
      expect(regionDifference(picture, canvas, [...kept])).toBe(0);
      expect(regionDifference(picture, canvas, [...painted])).toBeGreaterThan(5);
    },
  );
});

describe('upscaling', () => {
  it.each([2, 4] as const)(
    'upscales %sx with a Real-ESRGAN-layout network when one is installed',
    async (upscale) => {
      const out = await render({ mode: 'upscale', initImage: init, upscale, width: 64, height: 64 });
      expect([out.pictures[0]!.width, out.pictures[0]!.height]).toEqual([64 * upscale, 64 * upscale]);
      expect(out.model).toBeUndefined();
    },
  );

  it('upscales with Lanczos and an img2img detail pass under UPSCALER=lanczos with no network installed', async () => {
    const original = await source();
    const out = await render(
      { mode: 'upscale', initImage: init, upscale: 2, width: 64, height: 64 },
      worldWithoutUpscaler,
    );
    const picture = out.pictures[0]!;
    expect([picture.width, picture.height]).toEqual([128, 128]);
    expect(out.strength).toBe(0.3);
    const small = await sharp(picture.data, { raw: { width: 128, height: 128, channels: 3 } })
      .resize(64, 64)
      .raw()
      .toBuffer();
    // Still recognisably the same picture.
    expect(meanDifference({ data: small, width: 64, height: 64 }, original)).toBeLessThan(60);
  });

  it('gives the same pixels tile by tile as in one piece, when the overlap covers the network', async () => {
    const original = await source();
    const { session } = (await world.store.upscaler())!;
    const whole = await upscaleTiled(session, original, { tile: 64, overlap: 0 });
    const tiled = await upscaleTiled(session, original, { tile: 20, overlap: 2 });
    expect([tiled.width, tiled.height]).toEqual([256, 256]);
    expect(Buffer.compare(tiled.data, whole.data)).toBe(0);
  });

  it('refuses an upscale past MAX_PIXELS', async () => {
    await expect(
      generatePictures(tinyRequest({ mode: 'upscale', initImage: init, upscale: 4 }), {
        ...options(),
        maxPixels: 128 * 128,
      }),
    ).rejects.toThrow(/upscale: 4x of a 64x64 image is 256x256, over this server's limit of 16384 pixels/);
  });
});
