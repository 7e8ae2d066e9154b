import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runDoctorChecks } from '../../src/doctor/checks.ts';
import { testRedisUrl } from '../support/redis.ts';

const run = promisify(execFile);
const installed = spawnSync('ffmpeg', ['-hide_banner', '-version']).status === 0;

describe('easel doctor: video', () => {
  it('says whether this host makes MP4 clips (ffmpeg on PATH)', async () => {
    const check = (await runDoctorChecks({ REDIS_URL: testRedisUrl() })).find(
      (r) => r.name === 'video (ffmpeg)',
    );
    if (installed)
      expect(check).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(/^clips as MP4, WebP and GIF; ffmpeg version /),
      });
    else
      expect(check).toMatchObject({
        status: 'warn',
        detail: expect.stringContaining('apt-get install -y ffmpeg'),
      });
  });

  it('warns, with the install line, where PATH has no ffmpeg', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'easel-no-ffmpeg-'));
    try {
      symlinkSync(process.execPath, join(bin, 'node'));
      const { stdout } = await run(process.execPath, ['bin/easel.js', 'doctor'], {
        env: { PATH: bin, HOME: process.env.HOME ?? '', REDIS_URL: testRedisUrl() },
        timeout: 60_000,
      }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
      expect(stdout).toContain(
        'warn  video (ffmpeg): ffmpeg with H.264 not found: clips are WebP and GIF only (no MP4).',
      );
      expect(stdout).toContain('apt-get install -y ffmpeg');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
