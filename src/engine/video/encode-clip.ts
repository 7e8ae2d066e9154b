import sharp from 'sharp';
import type { RgbImage } from '../image-io.ts';
import { encodeMp4, ffmpegVersion } from './ffmpeg.ts';

export type ClipFormat = 'webp' | 'gif' | 'mp4';

export const CLIP_CONTENT_TYPES: Record<ClipFormat, string> = {
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
};

export interface EncodedClip {
  format: ClipFormat;
  contentType: string;
  bytes: Buffer;
  width: number;
  height: number;
}

/** ms each frame shows: GIF counts in hundredths of a second, so its delays are rounded to 10 ms. */
function frameDelays(frames: number, fps: number, step: number): number[] {
  const ms = Math.max(step, Math.round(1000 / fps / step) * step);
  return new Array<number>(frames).fill(ms);
}

/** The frames stacked into one tall raw image with a page per frame: how sharp holds an animation. */
function stacked(frames: readonly RgbImage[]) {
  const { width, height } = frames[0]!;
  return sharp(Buffer.concat(frames.map((f) => f.data)), {
    raw: { width, height: height * frames.length, channels: 3, pageHeight: height },
  });
}

/**
 * The clip in every format this host can write: animated WebP and GIF (sharp, looping forever) and,
 * when ffmpeg is installed, MP4. Smallest first is not promised; callers pick by format.
 */
export async function encodeClip(frames: readonly RgbImage[], fps: number): Promise<EncodedClip[]> {
  const { width, height } = frames[0]!;
  const out: EncodedClip[] = [];
  const webp = await stacked(frames)
    .webp({ loop: 0, delay: frameDelays(frames.length, fps, 1), quality: 85, effort: 2 })
    .toBuffer();
  out.push({ format: 'webp', contentType: CLIP_CONTENT_TYPES.webp, bytes: webp, width, height });
  const gif = await stacked(frames)
    .gif({ loop: 0, delay: frameDelays(frames.length, fps, 10), effort: 1 })
    .toBuffer();
  out.push({ format: 'gif', contentType: CLIP_CONTENT_TYPES.gif, bytes: gif, width, height });
  if (ffmpegVersion() !== undefined) {
    const mp4 = await encodeMp4(
      frames.map((f) => f.data),
      width,
      height,
      fps,
    );
    out.push({ format: 'mp4', contentType: CLIP_CONTENT_TYPES.mp4, bytes: mp4, width, height });
  }
  return out;
}

/**
 * An animated WebP made smaller until it is at most `limit` bytes: falling quality, then three
 * quarters of the size each round, every frame and its timing kept. Undefined when even the
 * smallest try is too big.
 */
export async function shrinkAnimatedWebp(bytes: Buffer, limit: number): Promise<Buffer | undefined> {
  const meta = await sharp(bytes, { animated: true }).metadata();
  let width = meta.width ?? 512;
  const options = { loop: meta.loop ?? 0, ...(meta.delay ? { delay: meta.delay } : {}) };
  for (let round = 0; round < 6 && width >= 32; round++) {
    for (const quality of [70, 50, 35]) {
      const out = await sharp(bytes, { animated: true })
        .resize({ width, withoutEnlargement: true })
        .webp({ ...options, quality, effort: 2 })
        .toBuffer();
      if (out.length <= limit) return out;
    }
    width = Math.floor(width * 0.75);
  }
  return undefined;
}
