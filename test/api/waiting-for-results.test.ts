import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { freePort, type PrivateRedis, startPrivateRedis } from '../../src/redis/private-redis-server.ts';
import { until } from '../support/until.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * Requests that wait for their result (API_SYNC_WAIT_MS) once admitted. No worker runs, so every
 * job stays queued. This file runs its own redis-server so it can stop and restart it.
 */

const dir = mkdtempSync(join(tmpdir(), 'easel-api-waiting-'));
let redis: PrivateRedis;
let port: number;
let api: ApiHarness;
let key: string;
let keyId: string;

beforeAll(async () => {
  port = await freePort();
  redis = await startPrivateRedis({ port, persistDir: dir });
  api = await startApiHarness({
    name: 'api-waiting',
    env: { REDIS_URL: redis.url, API_SYNC_WAIT_MS: '2500' },
  });
  const created = await api.newKey({ credits: 100 });
  key = created.key;
  keyId = created.record.id;
});

afterAll(async () => {
  // Also shows that closing soon after a Redis restart does not hang (the hook would time out).
  await api?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('waiting for results', () => {
  it('lets many requests wait at once without a listener per request', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const events = await api.services.progress.queueEvents();
      const listeners = events.listenerCount('completed');
      const answers = await Promise.all(
        Array.from({ length: 15 }, (_, i) =>
          api.post('/v1/text2img', { key, prompt: `a red circle number ${i}` }),
        ),
      );
      for (const answer of answers) expect(answer.body.status).toBe('processing');
      expect(events.listenerCount('completed')).toBe(listeners);
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('answers processing with the job id when Redis goes away after admission', async () => {
    const before = (await api.services.credits.balance(keyMember(keyId))).total;
    const pending = api.post('/v1/text2img', { key, prompt: 'a lighthouse in the fog' });
    // Admitted at once; the request then waits 2.5 s for a result that will not come.
    await until(async () => (await api.services.credits.balance(keyMember(keyId))).total < before);
    await redis.stop();

    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('processing');
    expect(answer.body.id).toMatch(/^g[0-9a-f]{24}$/);
    expect(answer.body.fetch_result).toBe(`${api.url}/v1/fetch/${answer.body.id}`);
    expect(JSON.stringify(answer.body)).not.toContain('nothing was charged');

    // Redis back (its append-only file kept the job): the job is where the answer said.
    redis = await startPrivateRedis({ port, persistDir: dir });
    await until(
      async () => api.services.redis.status === 'ready' && (await api.services.redis.ping()) === 'PONG',
    );
    await until(async () => (await api.post(`/v1/fetch/${answer.body.id}`, { key })).status === 200);
    const fetched = await api.post(`/v1/fetch/${answer.body.id}`, { key });
    expect(fetched.body).toMatchObject({ status: 'processing', id: answer.body.id });
  }, 60_000);
});
