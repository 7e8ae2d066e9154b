import { readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import type { RgbImage } from '../../src/engine/image-io.ts';
import { upscaleTiled } from '../../src/engine/tiled-upscale.ts';
import { DEFAULT_BUILTINS } from '../support/converted-networks.ts';
import { type TinyWorld, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

// The package's own fixture and the results UpscalerJS produced from it (assets/samples/<n>x).
const packageRoot = join(
  dirname(createRequire(import.meta.url).resolve('@upscalerjs/esrgan-slim')),
  '../../../../..',
);
const asset = (path: string) => join(packageRoot, 'assets', path);

let world: TinyWorld;

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny'], builtin: DEFAULT_BUILTINS });
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

async function rgb(source: string | Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(source).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function psnr(a: RgbImage, b: RgbImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let squared = 0;
  for (let i = 0; i < a.data.length; i++) squared += (a.data[i]! - b.data[i]!) ** 2;
  const mse = squared / a.data.length;
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse);
}

async function upscale(bytes: Buffer, factor: 2 | 4) {
  return generatePictures(
    tinyRequest({
      mode: 'upscale',
      initImage: { artifactId: 'fixture' },
      upscale: factor,
      width: 128,
      height: 128,
    }),
    {
      store: world.store,
      catalog: world.catalog,
      maxPixels: 1536 * 1536,
      images: { load: async () => bytes },
    },
  );
}

describe('the built-in ESRGAN upscaler (UpscalerJS esrgan-slim, converted to ONNX)', () => {
  it.each([2, 4] as const)(
    'upscales the package fixture %sx to UpscalerJS own result (PSNR at least 40 dB)',
    async (factor) => {
      const out = await upscale(await readFile(asset('fixture.png')), factor);
      const expected = await rgb(asset(`samples/${factor}x/result.png`));
      expect(out.model).toBeUndefined();
      expect(out.strength).toBeUndefined();
      // Measured about 95 dB: the same network, up to rounding of a few pixel values.
      expect(psnr(out.pictures[0]!, expected)).toBeGreaterThanOrEqual(40);
    },
  );

  it('gives the same pixels tile by tile as in one piece (the overlap covers its receptive field)', async () => {
    const network = (await world.store.builtinUpscaler(2))!;
    expect(network.receptiveRadius).toBe(10);
    const fixture = await rgb(asset('fixture.png'));
    const wide = await sharp(fixture.data, { raw: { width: 128, height: 128, channels: 3 } })
      .resize(150, 90, { fit: 'fill' })
      .raw()
      .toBuffer();
    const picture = { data: wide, width: 150, height: 90 };
    const whole = await upscaleTiled(network.session, picture, { tile: 192, overlap: 0 });
    const tiled = await upscaleTiled(network.session, picture, {
      tile: 40,
      overlap: network.receptiveRadius,
    });
    expect([tiled.width, tiled.height]).toEqual([300, 180]);
    expect(Buffer.compare(tiled.data, whole.data)).toBe(0);
  });

  it('is sharper than Lanczos on a crisp circle (the case the issue found softer than the input)', async () => {
    const circle = await sharp(
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><rect width="128" height="128" fill="#fff"/><circle cx="64" cy="64" r="40" fill="#c22"/></svg>',
      ),
    )
      .png()
      .toBuffer();
    const out = (await upscale(circle, 4)).pictures[0]!;
    // The same circle drawn at 512 px is the ideal; Lanczos from 128 px is the baseline to beat.
    const ideal = await rgb(
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512"><rect width="512" height="512" fill="#fff"/><circle cx="256" cy="256" r="160" fill="#c22"/></svg>',
      ),
    );
    const lanczos = await sharp(circle)
      .resize(512, 512, { kernel: 'lanczos3' })
      .removeAlpha()
      .raw()
      .toBuffer();
    const lanczosPsnr = psnr({ data: lanczos, width: 512, height: 512 }, ideal);
    expect(psnr(out, ideal)).toBeGreaterThan(lanczosPsnr);
  });
});
