import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis/private-redis-server.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

const dir = mkdtempSync(join(tmpdir(), 'easel-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('easel start', () => {
  it('runs the API, worker, delivery and metrics in one process and stops them in order on SIGTERM', async () => {
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const child = spawn('node', ['bin/easel.js', 'start'], {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: testRedisUrl(),
        QUEUE_PREFIX: uniquePrefix('start'),
        API_PORT: String(apiPort),
        METRICS_PORT: String(metricsPort),
        DATA_DIR: dir,
        ARTIFACTS_DIR: join(dir, 'artifacts'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => {
      log += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));

    const load = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/system_load`);
      return res.ok ? ((await res.json()) as { status: string; workers: number }) : undefined;
    }, 30_000);
    expect(load.status).toBe('success');
    const metrics = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return res.ok ? res.text() : undefined;
    }, 10_000);
    expect(metrics).toContain('easel_admissions_total');
    await waitFor(
      async () => (log.includes('"role":"deliver","msg":"role started"') ? true : undefined),
      10_000,
    );

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const stopped = [...log.matchAll(/"role":"(\w+)","msg":"role stopped"/g)].map((m) => m[1]);
    // roles stop in reverse start order; metrics, which serves all of them, stops last
    expect(stopped, `the log:\n${log}`).toEqual(['deliver', 'worker', 'api', 'metrics']);
    // The API server's lines pass through two child loggers; the role is still named once.
    const apiLines = log.split('\n').filter((line) => line.includes('"role":"api"'));
    expect(apiLines.length, log).toBeGreaterThan(0);
    for (const line of apiLines) expect(line.match(/"role":/g), line).toHaveLength(1);
  }, 60_000);
});
