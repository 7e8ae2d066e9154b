import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import { encodeClip } from '../../src/engine/video/encode-clip.ts';
import { ffmpegVersion } from '../../src/engine/video/ffmpeg.ts';
import { ClipCancelled, type ClipOptions, generateClip } from '../../src/engine/video/generate-clip.ts';
import type { GenerationRequest, VideoRequest } from '../../src/request/types.ts';
import { type TinyWorld, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

let world: TinyWorld;

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny'] });
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

function options(extra: Partial<ClipOptions> = {}): ClipOptions {
  return {
    store: world.store,
    catalog: world.catalog,
    maxPixels: 1536 * 1536,
    images: {
      load: async () => {
        throw new Error('a clip loads no image of the member');
      },
    },
    ...extra,
  };
}

function clipRequest(video: Partial<VideoRequest>, overrides: Partial<GenerationRequest> = {}) {
  return tinyRequest({
    width: 64,
    height: 64,
    video: { frames: 8, fps: 8, loop: false, mode: 'walk', ...video },
    ...overrides,
  });
}

/** Mean absolute difference of two frames' bytes, 0..255. */
function distance(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('clips rendered through the real pipeline on the tiny model', () => {
  it('renders the asked number of frames at the display size, reporting each frame', async () => {
    const reported: [number, number][] = [];
    const clip = await generateClip(
      clipRequest({ frames: 8 }, { width: 128, height: 64 }),
      options({ onFrame: (done, total) => reported.push([done, total]) }),
    );
    expect(clip.frames).toHaveLength(8);
    for (const f of clip.frames) expect([f.width, f.height, f.data.length]).toEqual([128, 64, 128 * 64 * 3]);
    expect(reported).toEqual(Array.from({ length: 8 }, (_, i) => [i + 1, 8]));
  });

  it('walks from the seed to the next one: the ends are those seeds rendered alone', async () => {
    const clip = await generateClip(clipRequest({ frames: 8, mode: 'walk' }, { seed: 700 }), options());
    const first = await generatePictures(tinyRequest({ seed: 700 }), options());
    const next = await generatePictures(tinyRequest({ seed: 701 }), options());
    expect(Buffer.compare(clip.frames[0]!.data, first.pictures[0]!.data)).toBe(0);
    expect(Buffer.compare(clip.frames[7]!.data, next.pictures[0]!.data)).toBe(0);
    // Neighbours are closer than the ends are to each other.
    const ends = distance(clip.frames[0]!.data, clip.frames[7]!.data);
    expect(ends).toBeGreaterThan(1);
    expect(distance(clip.frames[0]!.data, clip.frames[1]!.data)).toBeLessThan(ends);
  });

  it('gives the same clip for the same seed, and another for another seed', async () => {
    for (const mode of ['walk', 'morph', 'drift'] as const) {
      const video = { frames: 8, mode, ...(mode === 'morph' ? { to: 'a green square' } : {}) };
      const a = await generateClip(clipRequest(video, { seed: 9 }), options());
      const b = await generateClip(clipRequest(video, { seed: 9 }), options());
      const c = await generateClip(clipRequest(video, { seed: 10 }), options());
      expect(
        Buffer.compare(
          Buffer.concat(a.frames.map((f) => f.data)),
          Buffer.concat(b.frames.map((f) => f.data)),
        ),
        mode,
      ).toBe(0);
      expect(distance(a.frames[3]!.data, c.frames[3]!.data), mode).toBeGreaterThan(1);
    }
  });

  it('morphs from the prompt to the second one on one seed', async () => {
    const clip = await generateClip(
      clipRequest({ frames: 8, mode: 'morph', to: 'a dragon over a city at night' }, { seed: 5 }),
      options(),
    );
    const from = await generatePictures(tinyRequest({ seed: 5 }), options());
    const to = await generatePictures(
      tinyRequest({ seed: 5, prompt: 'a dragon over a city at night' }),
      options(),
    );
    expect(Buffer.compare(clip.frames[0]!.data, from.pictures[0]!.data)).toBe(0);
    expect(distance(clip.frames[7]!.data, to.pictures[0]!.data)).toBeLessThan(0.5);
    expect(distance(clip.frames[0]!.data, clip.frames[7]!.data)).toBeGreaterThan(1);
  });

  it('loops a morph back towards its first frame', async () => {
    const clip = await generateClip(
      clipRequest({ frames: 8, mode: 'morph', to: 'a dragon over a city at night', loop: true }, { seed: 5 }),
      options(),
    );
    const d = (i: number) => distance(clip.frames[0]!.data, clip.frames[i]!.data);
    expect(d(4)).toBeGreaterThan(d(7));
    expect(Buffer.compare(clip.frames[1]!.data, clip.frames[7]!.data)).toBe(0);
  });

  it('drifts: each frame after the first starts from the last one zoomed in', async () => {
    const clip = await generateClip(clipRequest({ frames: 8, mode: 'drift' }, { seed: 3 }), options());
    const still = await generatePictures(tinyRequest({ seed: 3 }), options());
    expect(Buffer.compare(clip.frames[0]!.data, still.pictures[0]!.data)).toBe(0);
    expect(distance(clip.frames[0]!.data, clip.frames[1]!.data)).toBeGreaterThan(0);
    // A redraw of the last frame stays nearer to it than an unrelated seed's picture does.
    const other = await generatePictures(tinyRequest({ seed: 4000 }), options());
    expect(distance(clip.frames[1]!.data, clip.frames[0]!.data)).toBeLessThan(
      distance(other.pictures[0]!.data, clip.frames[0]!.data),
    );
  });

  it('stops between frames when cancelled and says how many were finished', async () => {
    const controller = new AbortController();
    const error = await generateClip(
      clipRequest({ frames: 16 }),
      options({
        signal: controller.signal,
        onFrame: (done) => {
          if (done === 3) controller.abort();
        },
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClipCancelled);
    expect((error as ClipCancelled).framesDone).toBe(3);
  });
});

describe('clip files', () => {
  it('encodes animated WebP and GIF that decode to every frame at the size and frame rate', async () => {
    const clip = await generateClip(clipRequest({ frames: 10 }, { width: 128, height: 64 }), options());
    const files = await encodeClip(clip.frames, 5);
    for (const format of ['webp', 'gif'] as const) {
      const file = files.find((f) => f.format === format)!;
      expect(file.contentType).toBe(`image/${format}`);
      const meta = await sharp(file.bytes, { animated: true }).metadata();
      expect(meta.format).toBe(format);
      expect([meta.pages, meta.width, meta.pageHeight]).toEqual([10, 128, 64]);
      expect(meta.delay).toEqual(new Array(10).fill(200));
      expect(meta.loop).toBe(0);
      const pixels = await sharp(file.bytes, { animated: true }).raw().toBuffer();
      expect(pixels.length).toBeGreaterThanOrEqual(128 * 64 * 10 * 3);
    }
  });

  it.skipIf(ffmpegVersion() === undefined)(
    'encodes an H.264 MP4 that ffprobe reads with every frame, the size and the frame rate (needs ffmpeg and ffprobe)',
    async () => {
      const clip = await generateClip(clipRequest({ frames: 12 }, { width: 128, height: 64 }), options());
      const mp4 = (await encodeClip(clip.frames, 6)).find((f) => f.format === 'mp4');
      expect(mp4?.contentType).toBe('video/mp4');
      const dir = mkdtempSync(join(tmpdir(), 'easel-clip-'));
      try {
        const path = join(dir, 'clip.mp4');
        writeFileSync(path, mp4!.bytes);
        const probe = JSON.parse(
          execFileSync(
            'ffprobe',
            ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_streams', '-of', 'json', path],
            { encoding: 'utf8' },
          ),
        ) as { streams: Record<string, string | number>[] };
        const stream = probe.streams[0]!;
        expect(stream.codec_name).toBe('h264');
        expect([stream.width, stream.height]).toEqual([128, 64]);
        expect(stream.r_frame_rate).toBe('6/1');
        expect(Number(stream.nb_read_frames)).toBe(12);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
