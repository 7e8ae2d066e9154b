import sharp from 'sharp';
import { UserError } from '../errors/user-error.ts';
import { planarToRgbInto } from './kernels/kernels.ts';

/**
 * Pictures in and out of the engine through sharp. Input images are untrusted (uploads, URLs):
 * sharp refuses anything over MAX_INPUT_PIXELS from the header alone, before decoding, so a small
 * file that inflates to gigabytes (a decompression bomb) costs nothing.
 */
export const MAX_INPUT_PIXELS = 50_000_000;

export interface RgbImage {
  /** Interleaved 8-bit RGB, row-major. */
  data: Buffer;
  width: number;
  height: number;
}

function refuse(field: string, message: string): UserError {
  return UserError.invalid([{ field, message: `${field}: ${message}` }]);
}

function explain(error: unknown, field: string): UserError {
  const message = (error as Error).message ?? '';
  if (/pixel limit/i.test(message)) {
    return refuse(field, `the image is too large (more than ${MAX_INPUT_PIXELS / 1_000_000} megapixels)`);
  }
  return refuse(field, 'the file is not a readable image (send a PNG, JPEG or WebP)');
}

/** Decodes an input picture to RGB (EXIF orientation applied, transparency flattened onto white). */
export async function decodeImage(bytes: Buffer, field: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (error) {
    throw explain(error, field);
  }
}

/**
 * Decodes a mask to one byte per pixel, 255 = repaint. White-on-black masks (the hosted APIs') are
 * read by brightness; a mask with transparency (OpenAI-style) repaints where it is transparent.
 */
export async function decodeMask(
  bytes: Buffer,
  field: string,
): Promise<{ data: Buffer; width: number; height: number }> {
  try {
    const image = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' }).rotate();
    const meta = await image.metadata();
    if (meta.hasAlpha === true) {
      const { data, info } = await image
        .clone()
        .ensureAlpha()
        .extractChannel(3)
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (data.some((a) => a < 255)) {
        for (let i = 0; i < data.length; i++) data[i] = 255 - data[i]!;
        return { data, width: info.width, height: info.height };
      }
    }
    const { data, info } = await image
      .flatten({ background: '#000000' })
      .greyscale()
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (error) {
    throw explain(error, field);
  }
}

/** Resizes RGB to exactly width x height: `cover` crops to the aspect ratio, `fill` stretches. */
export async function resizeRgb(
  image: RgbImage,
  width: number,
  height: number,
  fit: 'cover' | 'fill' = 'cover',
): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit, kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { data, width, height };
}

export async function resizeGrey(
  mask: { data: Buffer; width: number; height: number },
  width: number,
  height: number,
  fit: 'cover' | 'fill' = 'cover',
): Promise<Buffer> {
  if (mask.width === width && mask.height === height) return mask.data;
  return sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .resize(width, height, { fit, kernel: 'nearest' })
    .extractChannel(0)
    .raw()
    .toBuffer();
}

/** RGB bytes -> [3, H, W] float32 in [-1, 1], the VAE's input. */
export function rgbToPlanar(image: RgbImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = image.data[i * 3 + c]! / 127.5 - 1;
  }
  return out;
}

/**
 * [3, H, W] nominally in [-1, 1] (at `offset` of a batch) -> RGB bytes, clamped; NaN (an fp16
 * overflow in the VAE) becomes mid-grey. This touches every pixel of every render, so it is one
 * pass with sequential stores and no calls.
 */
export function planarToRgb(pictures: Float32Array, offset: number, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = Buffer.allocUnsafe(3 * plane);
  // Each value in [-1, 1] as a byte, Math.round((x + 1) * 127.5) clamped, NaN as 128.
  planarToRgbInto(
    data,
    pictures.subarray(offset, offset + plane),
    pictures.subarray(offset + plane, offset + 2 * plane),
    pictures.subarray(offset + 2 * plane, offset + 3 * plane),
  );
  return { data, width, height };
}

export async function encodePng(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
