import type { RgbImage } from '../image-io.ts';

/**
 * Recovers the picture easel-mini rendered from the picture it displays. The engine enlarges the
 * 32x32 render by a whole factor with Lanczos, which interpolates: the pixels at the centre of each
 * factor x factor block land within 1/(2 x factor) of a rendered pixel's centre and carry its
 * colour almost exactly. Averaging the block instead would smear the Lanczos ringing at edges in.
 */
export function displayToScene(display: RgbImage, width: number, height: number): RgbImage {
  const factor = display.width / width;
  if (!Number.isInteger(factor) || factor < 1 || display.height !== height * factor) {
    throw new RangeError(
      `a ${display.width}x${display.height} display is not a whole multiple of ${width}x${height}`,
    );
  }
  // Even factors have two centre pixels per axis, odd ones one.
  const lo = Math.floor((factor - 1) / 2);
  const hi = Math.ceil((factor - 1) / 2);
  const taps = lo === hi ? [lo] : [lo, hi];
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (const dy of taps) {
          for (const dx of taps) {
            sum += display.data[((y * factor + dy) * display.width + x * factor + dx) * 3 + c]!;
          }
        }
        data[(y * width + x) * 3 + c] = Math.round(sum / (taps.length * taps.length));
      }
    }
  }
  return { data, width, height };
}
