/**
 * Size rules that need the input image: known at admission as soon as the image is read, and
 * checked again by the worker (a job queued by an older frontend). One wording for both, so a
 * member sees the same sentence whichever caught it.
 */

/** Why an upscale would produce too large an image, or undefined when it fits. */
export function upscaleOutputProblem(
  source: { width: number; height: number },
  factor: number,
  maxPixels: number,
): string | undefined {
  const width = source.width * factor;
  const height = source.height * factor;
  if (width * height <= maxPixels) return undefined;
  return `${factor}x of a ${source.width}x${source.height} image is ${width}x${height}, over this server's limit of ${maxPixels} pixels`;
}

/** Why a mask cannot be used with its image, or undefined when the sizes match. */
export function maskSizeProblem(
  mask: { width: number; height: number },
  image: { width: number; height: number },
): string | undefined {
  if (mask.width === image.width && mask.height === image.height) return undefined;
  return `the mask is ${mask.width}x${mask.height} but the image is ${image.width}x${image.height}; they must be the same size`;
}
