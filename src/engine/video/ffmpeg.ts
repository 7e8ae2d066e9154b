import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodedError } from '../../errors/coded-error.ts';

/**
 * Debian's `ffmpeg`, when installed, encodes clips as MP4 (H.264): sharp has no video encoder.
 * Looked up once per process on PATH; an install while easel runs is seen after a restart.
 */
let found: { version: string } | null | undefined;

/** ffmpeg's version line when it is on PATH and has an H.264 encoder; undefined otherwise. */
export function ffmpegVersion(): string | undefined {
  if (found === undefined) {
    const version = spawnSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' });
    const encoders = spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' });
    const line = version.status === 0 ? version.stdout.split('\n')[0]?.trim() : undefined;
    found =
      line && encoders.status === 0 && /libx264|\bh264\b/.test(encoders.stdout) ? { version: line } : null;
  }
  return found?.version;
}

/**
 * Frames (RGB, all one size, even sides) as an H.264 MP4 playable everywhere: yuv420p, the index
 * at the front (`+faststart`) so a browser or Discord plays it while downloading. Written through a
 * temporary file because faststart rewrites the finished file; the file is removed whatever happens.
 */
export async function encodeMp4(
  frames: readonly Buffer[],
  width: number,
  height: number,
  fps: number,
): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'easel-mp4-'));
  const out = join(dir, 'clip.mp4');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        'ffmpeg',
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-f',
          'rawvideo',
          '-pix_fmt',
          'rgb24',
          '-s',
          `${width}x${height}`,
          '-r',
          String(fps),
          '-i',
          'pipe:0',
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          '-crf',
          '20',
          '-pix_fmt',
          'yuv420p',
          '-movflags',
          '+faststart',
          '-y',
          out,
        ],
        { stdio: ['pipe', 'ignore', 'pipe'] },
      );
      let errors = '';
      child.stderr.on('data', (chunk: Buffer) => {
        errors = (errors + chunk.toString()).slice(-2000);
      });
      child.on('error', (error) =>
        reject(new CodedError('engine-failed', `ffmpeg did not start: ${error.message}`)),
      );
      child.on('close', (code) => {
        if (code === 0) resolve();
        else reject(new CodedError('engine-failed', `ffmpeg failed (${code}): ${errors.trim()}`));
      });
      // A failed ffmpeg closes its input early; the close handler reports why.
      child.stdin.on('error', () => {});
      for (const frame of frames) child.stdin.write(frame);
      child.stdin.end();
    });
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
