import sharp from 'sharp';

/**
 * Masks as the faces' clients draw them, turned into easel's (white repainted, black kept, same size
 * as the image). AUTOMATIC1111 sends easel's convention, optionally inverted and blurred
 * (`inpainting_mask_invert`, `mask_blur`); OpenAI marks the part to edit as fully transparent, in the
 * mask or, without one, in the image itself.
 */

/** A1111's mask after `inpainting_mask_invert` and its Gaussian `mask_blur` (a radius in pixels). */
export async function a1111Mask(mask: Buffer, options: { invert: boolean; blur: number }): Promise<Buffer> {
  let image = sharp(mask).flatten({ background: '#000' }).greyscale();
  if (options.invert) image = image.negate({ alpha: false });
  // PIL's GaussianBlur radius is its sigma; sharp wants at least 0.3.
  if (options.blur >= 0.3) image = image.blur(options.blur);
  return image.png().toBuffer();
}

/**
 * White where `image` is fully transparent, black elsewhere; undefined when no pixel is (an image with
 * nothing marked is edited whole, as gpt-image-1 does without a mask). Refuses (throws) an image of
 * more than `maxPixels` before decoding it.
 */
export async function transparentAsMask(image: Buffer, maxPixels: number): Promise<Buffer | undefined> {
  const { data, info } = await sharp(image, { limitInputPixels: maxPixels })
    .ensureAlpha()
    .extractChannel(3)
    .raw()
    .toBuffer({ resolveWithObject: true });
  let marked = false;
  for (let i = 0; i < data.length; i++) {
    const edit = data[i] === 0;
    data[i] = edit ? 255 : 0;
    marked ||= edit;
  }
  if (!marked) return undefined;
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 1 } })
    .png()
    .toBuffer();
}
