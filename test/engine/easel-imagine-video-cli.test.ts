import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegVersion } from '../../src/engine/video/ffmpeg.ts';
import { easelCommand } from '../support/easel-process.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

let root: string;
const prefix = uniquePrefix('imagine-video-cli');

let easel: ReturnType<typeof easelCommand>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-imagine-video-'));
  easel = easelCommand(root, testRedisUrl(), prefix);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('easel imagine --video (the real binary)', () => {
  it('writes the clip in every format with its frames and frame rate', async () => {
    expect((await easel(['models', 'tiny'])).code).toBe(0);
    const out = join(root, 'out');
    const { code, stdout } = await easel([
      'imagine',
      'a red circle --model tiny --seed 99 --video 8 --fps 4 --loop',
      '--out',
      out,
      '--json',
    ]);
    expect(code, stdout).toBe(0);
    const outcome = JSON.parse(stdout) as {
      files: { path: string; clip?: { format: string; frames: number; fps: number } }[];
    };
    const clips = outcome.files.filter((f) => f.clip !== undefined);
    expect(clips.map((f) => f.clip!.format)).toEqual(
      ffmpegVersion() === undefined ? ['webp', 'gif'] : ['webp', 'gif', 'mp4'],
    );
    for (const f of clips) expect(f.clip).toMatchObject({ frames: 8, fps: 4 });
    const gif = await readFile(join(out, 'easel-99-clip.gif'));
    const meta = await sharp(gif, { animated: true }).metadata();
    expect([meta.pages, meta.delay?.[0]]).toEqual([8, 250]);
  });

  it('refuses a clip out of range, and --to without --video, naming the flag', async () => {
    const short = await easel(['imagine', 'a red circle --model tiny --video 4']);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('--video: must be a whole number of frames from 8 to 48 (got "4")');
    const morph = await easel(['imagine', 'a red circle --model tiny --to a blue square']);
    expect(morph.code).toBe(1);
    expect(morph.stderr).toContain('--to: only applies to a video');
  });
});
