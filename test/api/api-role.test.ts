import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startApiRole } from '../../src/api/api-role.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log/logger.ts';
import { freePort } from '../../src/redis/private-redis-server.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

/** The `api` role as `easel start` runs it: listening on API_PORT, stopping cleanly, and Redis outages. */

const artifactsDir = mkdtempSync(join(tmpdir(), 'easel-api-role-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

async function roleOn(redisUrl: string) {
  const port = await freePort();
  const config = parseConfig({
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: uniquePrefix('api-role'),
    ROLES: 'api',
    API_PORT: String(port),
    ARTIFACTS_DIR: artifactsDir,
    LOG_LEVEL: 'silent',
  });
  const role = await startApiRole({ config, logger: createLogger('silent') });
  return { role, base: `http://127.0.0.1:${port}` };
}

describe('api role', () => {
  it('serves on API_HOST:API_PORT and stops listening when stopped', async () => {
    const { role, base } = await roleOn(testRedisUrl());
    expect(role.name).toBe('api');
    const load = await fetch(`${base}/v1/system_load`);
    expect(load.status).toBe(200);
    expect(((await load.json()) as { status: string }).status).toBe('success');
    expect((await fetch(`${base}/v1/openapi.json`)).status).toBe(200);
    await role.stop();
    await expect(fetch(`${base}/v1/system_load`)).rejects.toThrow();
  });

  it('starts without Redis and answers 503 "Service unavailable" while it is down', async () => {
    const { role, base } = await roleOn(`redis://127.0.0.1:${await freePort()}`);
    try {
      const generate = await fetch(`${base}/v1/text2img`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': `esk_${'a'.repeat(43)}` },
        body: JSON.stringify({ prompt: 'anything' }),
      });
      expect(generate.status).toBe(503);
      expect(await generate.json()).toMatchObject({ status: 'error', message: 'Service unavailable' });
      const load = await fetch(`${base}/v1/system_load`);
      expect(load.status).toBe(503);
    } finally {
      await role.stop();
    }
  });
});
