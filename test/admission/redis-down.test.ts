import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createServices } from '../../src/app/services.ts';
import { UserError } from '../../src/errors/user-error.ts';
import { createLogger } from '../../src/log/logger.ts';
import { freePort, type PrivateRedis, startPrivateRedis } from '../../src/redis/private-redis-server.ts';
import { uniquePrefix } from '../support/redis.ts';
import { until } from '../support/until.ts';
import { accepted, admission, member, testConfig } from './support.ts';

/** This file runs its own redis-server so it can stop and restart it. */
const dir = mkdtempSync(join(tmpdir(), 'easel-redis-down-'));
let redis: PrivateRedis | undefined;

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a Redis that is down', () => {
  it('refuses with a clear error at once and reserves nothing', async () => {
    const port = await freePort();
    redis = await startPrivateRedis({ port, persistDir: dir });
    const config = testConfig({ REDIS_URL: redis.url });
    const services = await createServices(config, createLogger('silent'), { prefix: uniquePrefix('down') });
    try {
      const who = member('stranded');
      accepted(await services.admission.admit(admission(who)));

      await redis.stop();
      const started = Date.now();
      const error = await services.admission.admit(admission(who)).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).identifier).toBe('unavailable');
      expect((error as UserError).message).toBe(
        'The image queue is unreachable right now, so nothing was queued or charged. Please try again in a minute.',
      );

      redis = await startPrivateRedis({ port, persistDir: dir });
      await until(async () => services.redis.status === 'ready' && (await services.redis.ping()) === 'PONG');
      expect(await services.credits.balance(who)).toMatchObject({ total: 9, reserved: 1 });
      expect(await services.queues.generate.getJobCounts('prioritized')).toEqual({ prioritized: 1 });
      expect((await services.credits.history(who)).map((e) => e.kind)).toEqual([
        'reserve',
        'daily-allowance',
      ]);
      // And it works again.
      accepted(await services.admission.admit(admission(who)));
    } finally {
      await services.close();
    }
  });

  it('starts without Redis and refuses until it is there', async () => {
    const port = await freePort();
    const config = testConfig({ REDIS_URL: `redis://127.0.0.1:${port}` });
    const services = await createServices(config, createLogger('silent'), {
      prefix: uniquePrefix('never-up'),
    });
    try {
      const error = await services.admission.admit(admission(member('early'))).catch((e: unknown) => e);
      expect((error as UserError).identifier).toBe('unavailable');
    } finally {
      await services.close();
    }
  });
});
