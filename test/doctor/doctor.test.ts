import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureRedis } from '../../src/app/ensure-redis.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { type CheckResult, runDoctorChecks } from '../../src/doctor/checks.ts';
import { isLocalDefaultRedis, readRedisFacts } from '../../src/doctor/redis-checks.ts';
import { createLogger } from '../../src/log/logger.ts';
import { freePort, startPrivateRedis } from '../../src/redis/private-redis-server.ts';
import { testRedisUrl } from '../support/redis.ts';

const byName = (results: CheckResult[], name: string) => results.find((r) => r.name === name);

describe('easel doctor', () => {
  it('reports the real Redis version, eviction policy and persistence', async () => {
    const results = await runDoctorChecks({ REDIS_URL: testRedisUrl() });
    expect(byName(results, 'configuration')).toMatchObject({ status: 'ok' });
    expect(byName(results, 'redis')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/version \d+\.\d+/),
    });
    expect(byName(results, 'redis maxmemory-policy')).toMatchObject({ status: 'ok', detail: 'noeviction' });
    // the test Redis runs with --save "" --appendonly no
    expect(byName(results, 'redis persistence')).toMatchObject({ status: 'warn' });
    expect(byName(results, 'execution provider cpu')).toMatchObject({ status: 'ok' });
  });

  it('says how to fix an unreachable Redis', async () => {
    const port = await freePort();
    const results = await runDoctorChecks({ REDIS_URL: `redis://127.0.0.1:${port}` });
    const redis = byName(results, 'redis');
    expect(redis?.status).toBe('fail');
    expect(redis?.detail).toContain('apt-get install redis-server');
  });

  it('flags an eviction policy that would lose jobs', async () => {
    const redis = await startPrivateRedis();
    try {
      const { Redis } = await import('ioredis');
      const client = new Redis(redis.url);
      await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      client.disconnect();
      const results = await runDoctorChecks({ REDIS_URL: redis.url });
      expect(byName(results, 'redis maxmemory-policy')).toMatchObject({ status: 'fail' });
    } finally {
      await redis.stop();
    }
  });

  it('stops at invalid configuration and names the variable', async () => {
    const results = await runDoctorChecks({ API_PORT: 'abc' });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ name: 'configuration', status: 'fail' });
    expect(results[0]?.detail).toContain('API_PORT');
  });

  it('reports a missing execution provider as a warning with the install hint', async () => {
    const results = await runDoctorChecks({ REDIS_URL: testRedisUrl(), EXECUTION_PROVIDERS: 'cuda,cpu' });
    const cuda = byName(results, 'execution provider cuda');
    expect(cuda?.status).toBe('warn');
    expect(cuda?.detail).toContain('npm run install:cuda');
  });

  it('says which NSFW screen and which upscaler a fresh install uses', async () => {
    const results = await runDoctorChecks({ REDIS_URL: testRedisUrl() });
    expect(byName(results, 'nsfw screen')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining(
        'nsfwjs 4.3.0 MobileNetV2 (built in, converted to ONNX; flags porn >= 0.5',
      ),
    });
    expect(byName(results, 'upscaler')).toMatchObject({
      status: 'ok',
      detail:
        'esrgan-slim 2x and 4x from @upscalerjs/esrgan-slim 1.0.0 (built in, converted to ONNX), in overlapping tiles',
    });
    const plain = await runDoctorChecks({
      REDIS_URL: testRedisUrl(),
      NSFW_CLASSIFIER: 'none',
      UPSCALER: 'lanczos',
    });
    expect(byName(plain, 'nsfw screen')?.status).toBe('warn');
    expect(byName(plain, 'upscaler')?.detail).toContain('Lanczos');
  });

  it('never prints a platform token', async () => {
    const results = await runDoctorChecks({
      REDIS_URL: testRedisUrl(),
      DISCORD_ENABLED: 'true',
      DISCORD_TOKEN: 'very-secret-discord-token',
      DISCORD_APPLICATION_ID: '1',
    });
    expect(JSON.stringify(results)).not.toContain('very-secret-discord-token');
    expect(byName(results, 'discord')?.detail).toContain('DISCORD_TOKEN set');
  });
});

describe('the embedded Redis of easel start', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('only takes over the local default URL', () => {
    expect(isLocalDefaultRedis('redis://127.0.0.1:6379')).toBe(true);
    expect(isLocalDefaultRedis('redis://localhost')).toBe(true);
    expect(isLocalDefaultRedis('redis://10.0.0.5:6379')).toBe(false);
    expect(isLocalDefaultRedis('redis://127.0.0.1:6380')).toBe(false);
    expect(isLocalDefaultRedis('redis://:pw@127.0.0.1:6379')).toBe(false);
  });

  it('leaves a Redis that answers alone', async () => {
    const config = parseConfig({ REDIS_URL: testRedisUrl() });
    expect(await ensureRedis(config, createLogger('silent'))).toBeUndefined();
  });

  it('refuses a non-default URL that does not answer, saying what to do', async () => {
    const port = await freePort();
    const config = parseConfig({ REDIS_URL: `redis://127.0.0.2:${port}` });
    await expect(ensureRedis(config, createLogger('silent'))).rejects.toThrow(/Nothing answers at REDIS_URL/);
  });

  it('runs a private server with AOF under the data directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'easel-redis-'));
    dirs.push(dir);
    const redis = await startPrivateRedis({ persistDir: join(dir, 'redis') });
    try {
      const facts = await readRedisFacts(redis.url);
      expect(facts.aof).toBe(true);
      expect(facts.maxmemoryPolicy).toBe('noeviction');
    } finally {
      await redis.stop();
    }
  });
});

describe('the models check of easel doctor', () => {
  const modelsDir = mkdtempSync(join(tmpdir(), 'easel-doctor-models-'));
  afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

  it('names the files an incomplete model folder lacks', async () => {
    mkdirSync(join(modelsDir, 'sd-turbo', 'unet'), { recursive: true });
    writeFileSync(join(modelsDir, 'sd-turbo', 'model_index.json'), '{}');
    writeFileSync(join(modelsDir, 'sd-turbo', 'unet', 'model.onnx'), '');
    const results = await runDoctorChecks({ REDIS_URL: testRedisUrl(), MODELS_DIR: modelsDir });
    const models = byName(results, 'models');
    expect(models?.detail).toContain('sd-turbo (missing scheduler/scheduler_config.json');
    expect(models?.detail).toContain('text_encoder/model.onnx');
  });
});
