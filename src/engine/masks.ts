import sharp from 'sharp';
import { PAN_FACTOR } from '../request/limits.ts';
import type { PanDirection, RegionPercent } from '../request/types.ts';
import type { RgbImage } from './image-io.ts';

/** A one-byte-per-pixel mask, 255 = repaint. */
export interface Mask {
  data: Buffer;
  width: number;
  height: number;
}

/** The mask of a region given in percent of the picture (chat inpainting), inverted for `background`. */
export function regionMask(region: RegionPercent, width: number, height: number): Mask {
  const x0 = Math.round((region.x / 100) * width);
  const y0 = Math.round((region.y / 100) * height);
  const x1 = Math.round(((region.x + region.w) / 100) * width);
  const y1 = Math.round(((region.y + region.h) / 100) * height);
  const inside = region.invert === true ? 0 : 255;
  const data = Buffer.alloc(width * height, 255 - inside);
  for (let y = y0; y < y1; y++) data.fill(inside, y * width + x0, y * width + x1);
  return { data, width, height };
}

/**
 * Zoom out: the picture shrunk by `factor` in the middle of a canvas of the same size, the border
 * filled by mirroring the picture (better context for the model than flat grey) and masked for
 * repainting, a few pixels into the picture so the seam is repainted too.
 */
export async function zoomOutCanvas(
  image: RgbImage,
  factor: number,
): Promise<{ canvas: RgbImage; mask: Mask }> {
  const { width, height } = image;
  const innerW = Math.max(1, Math.round(width / factor));
  const innerH = Math.max(1, Math.round(height / factor));
  const left = Math.floor((width - innerW) / 2);
  const top = Math.floor((height - innerH) / 2);
  const data = await sharp(image.data, { raw: { width, height, channels: 3 } })
    .resize(innerW, innerH, { kernel: 'lanczos3' })
    .extend({ left, top, right: width - innerW - left, bottom: height - innerH - top, extendWith: 'mirror' })
    .raw()
    .toBuffer();
  const seam = Math.max(2, Math.round(Math.min(innerW, innerH) * 0.02));
  const keep: RegionPercent = {
    x: ((left + seam) / width) * 100,
    y: ((top + seam) / height) * 100,
    w: ((innerW - 2 * seam) / width) * 100,
    h: ((innerH - 2 * seam) / height) * 100,
    invert: true,
  };
  return { canvas: { data, width, height }, mask: regionMask(keep, width, height) };
}

/**
 * Pan: the picture fills the canvas but for one side, which is new ground, filled by mirroring the
 * picture and masked for repainting (with a seam a few pixels into the picture). `width` x `height`
 * is the canvas, already the picture's size grown PAN_FACTOR times in `direction`.
 */
export async function panCanvas(
  image: RgbImage,
  width: number,
  height: number,
  direction: PanDirection,
): Promise<{ canvas: RgbImage; mask: Mask }> {
  const horizontal = direction === 'left' || direction === 'right';
  const innerW = horizontal ? Math.round(width / PAN_FACTOR) : width;
  const innerH = horizontal ? height : Math.round(height / PAN_FACTOR);
  const grow = { left: 0, right: 0, top: 0, bottom: 0 };
  if (direction === 'left') grow.left = width - innerW;
  if (direction === 'right') grow.right = width - innerW;
  if (direction === 'up') grow.top = height - innerH;
  if (direction === 'down') grow.bottom = height - innerH;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(innerW, innerH, { fit: 'cover', kernel: 'lanczos3' })
    .extend({ ...grow, extendWith: 'mirror' })
    .raw()
    .toBuffer();
  const seam = Math.max(2, Math.round(Math.min(innerW, innerH) * 0.02));
  const keep: RegionPercent = {
    x: ((grow.left + (direction === 'left' ? seam : 0)) / width) * 100,
    y: ((grow.top + (direction === 'up' ? seam : 0)) / height) * 100,
    w: ((innerW - (horizontal ? seam : 0)) / width) * 100,
    h: ((innerH - (horizontal ? 0 : seam)) / height) * 100,
    invert: true,
  };
  return { canvas: { data, width, height }, mask: regionMask(keep, width, height) };
}

/** Mask pixels at or above half are repainted; below are kept. */
export function binarize(mask: Mask): Mask {
  const data = Buffer.alloc(mask.data.length);
  for (let i = 0; i < data.length; i++) data[i] = mask.data[i]! >= 128 ? 255 : 0;
  return { data, width: mask.width, height: mask.height };
}

/**
 * The mask at latent resolution, [h*w] of 0/1: a latent cell is repainted when any pixel it covers
 * is, so the repainted area never shrinks when pictures are 8x smaller in latent space.
 */
export function latentMask(mask: Mask, latentWidth: number, latentHeight: number): Float32Array {
  const out = new Float32Array(latentWidth * latentHeight);
  for (let y = 0; y < mask.height; y++) {
    const ly = Math.min(latentHeight - 1, Math.floor((y * latentHeight) / mask.height));
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[y * mask.width + x]! >= 128) {
        out[ly * latentWidth + Math.min(latentWidth - 1, Math.floor((x * latentWidth) / mask.width))] = 1;
      }
    }
  }
  return out;
}

/** The picture with the repainted area set to mid grey (0 in [-1, 1]), for 9-channel UNets. */
export function blankMasked(planar: Float32Array, mask: Mask): Float32Array {
  const plane = mask.width * mask.height;
  const out = planar.slice();
  for (let i = 0; i < plane; i++) {
    if (mask.data[i]! >= 128) for (let c = 0; c < 3; c++) out[c * plane + i] = 0;
  }
  return out;
}

/**
 * Puts the original pixels back wherever the mask keeps them, with a soft edge, so inpainting never
 * alters what the member did not ask to change (the VAE round trip alone would blur it).
 */
export async function pasteKept(original: RgbImage, generated: RgbImage, mask: Mask): Promise<RgbImage> {
  const sigma = Math.max(1, Math.min(mask.width, mask.height) / 128);
  const soft = await sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .blur(sigma)
    .extractChannel(0)
    .raw()
    .toBuffer();
  const data = Buffer.alloc(original.data.length);
  for (let i = 0; i < soft.length; i++) {
    // Doubling the blurred mask keeps the whole masked area fully repainted and fades outside it.
    const m = Math.min(1, (2 * soft[i]!) / 255);
    for (let c = 0; c < 3; c++) {
      const j = i * 3 + c;
      data[j] = Math.round(m * generated.data[j]! + (1 - m) * original.data[j]!);
    }
  }
  return { data, width: original.width, height: original.height };
}
