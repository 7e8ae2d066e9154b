import sharp from 'sharp';
import type { RgbImage } from '../image-io.ts';

/**
 * The picture enlarged by `factor` about its centre and cropped back to its size, as PNG bytes (what
 * an img2img render loads). PNG without compression: the bytes are read back at once and never kept.
 */
export async function zoomedPng(picture: RgbImage, factor: number): Promise<Buffer> {
  const { width, height } = picture;
  const cropW = Math.max(1, Math.round(width / factor));
  const cropH = Math.max(1, Math.round(height / factor));
  return sharp(picture.data, { raw: { width, height, channels: 3 } })
    .extract({
      left: Math.floor((width - cropW) / 2),
      top: Math.floor((height - cropH) / 2),
      width: cropW,
      height: cropH,
    })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .png({ compressionLevel: 0 })
    .toBuffer();
}
