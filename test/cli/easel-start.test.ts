import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeyWithCredits } from '../../src/api/key-admin.ts';
import { ApiKeyStore } from '../../src/api/key-store.ts';
import { createServices } from '../../src/app/services.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log/logger.ts';
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
    // frontends first, then the worker, then delivery; metrics, which serves all of them, last
    expect(stopped, `the log:\n${log}`).toEqual(['api', 'worker', 'deliver', 'metrics']);
    // The API server's lines pass through two child loggers; the role is still named once.
    const apiLines = log.split('\n').filter((line) => line.includes('"role":"api"'));
    expect(apiLines.length, log).toBeGreaterThan(0);
    for (const line of apiLines) expect(line.match(/"role":/g), line).toHaveLength(1);
  }, 60_000);

  it('delivers the result of a job that was rendering when SIGTERM came, then exits', async () => {
    const prefix = uniquePrefix('start-inflight');
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const hooks: { id?: string; status?: string }[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        hooks.push(JSON.parse(body) as { id?: string; status?: string });
        res.writeHead(200).end('ok');
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

    const env = {
      REDIS_URL: testRedisUrl(),
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      ARTIFACTS_DIR: join(dir, 'inflight-artifacts'),
    };
    const services = await createServices(parseConfig(env), createLogger('silent'), { prefix });
    const { key } = await createKeyWithCredits(services, new ApiKeyStore(services.redis, prefix), {
      name: 'inflight',
      credits: 100,
    });
    const child = spawn('node', ['bin/easel.js', 'start'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...env,
        LOG_LEVEL: 'info',
        API_PORT: String(apiPort),
        METRICS_PORT: String(metricsPort),
        DATA_DIR: dir,
        API_SYNC_WAIT_MS: '0',
        API_ALLOW_PRIVATE_FETCH: 'true',
        WEBHOOK_SECRET: 'inflight-secret',
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
    try {
      await waitFor(
        async () => (log.includes('"role":"deliver","msg":"role started"') ? true : undefined),
        30_000,
      );
      const response = await fetch(`http://127.0.0.1:${apiPort}/v1/text2img`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          prompt: 'a red circle on a blue background',
          samples: 4,
          num_inference_steps: 100,
          webhook: hookUrl,
        }),
      });
      const queued = (await response.json()) as { id: string };
      // SIGTERM while the worker is rendering it.
      await waitFor(
        async () => ((await services.jobs.get(queued.id))?.state === 'active' ? true : undefined),
        20_000,
      );
      child.kill('SIGTERM');
      expect(await exited, `the log:\n${log}`).toBe(0);
      expect((await services.jobs.get(queued.id))?.state).toBe('completed');
      expect(hooks.map((h) => [h.id, h.status])).toEqual([[queued.id, 'success']]);
    } finally {
      child.kill('SIGKILL');
      receiver.close();
      await services.close();
    }
  }, 90_000);
});
