import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/redis.ts';

const run = promisify(execFile);

/** Runs the real `easel` binary with an environment of our choosing (no .env leaks in: cwd has none). */
async function easel(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('node', ['bin/easel.js', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the easel command', () => {
  it('lists its commands in --help', async () => {
    const { code, stdout } = await easel(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('start');
    expect(stdout).toContain('doctor');
  });

  it('doctor reports on the real Redis and exits non-zero only when a check fails', async () => {
    const { code, stdout } = await easel(['doctor'], { REDIS_URL: testRedisUrl() });
    expect(stdout).toMatch(/ok +redis: reachable at .*version \d/);
    expect(stdout).toContain('ok    redis maxmemory-policy: noeviction');
    expect(stdout).toContain('ok    execution provider cpu');
    expect(code).toBe(stdout.includes('FAIL ') ? 1 : 0);
  });

  it('start refuses bad configuration with one message naming every variable', async () => {
    const { code, stderr } = await easel(['start'], {
      API_PORT: 'eighty',
      REDIS_URL: 'nope',
      LOG_LEVEL: 'silent',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('API_PORT: expected a whole number from 0 to 65535, got "eighty"');
    expect(stderr).toContain('REDIS_URL');
    expect(stderr).not.toMatch(/at .*\.ts:\d+/); // a message, not a stack trace
  });
});
