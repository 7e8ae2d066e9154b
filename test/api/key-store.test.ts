import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, hashApiKey } from '../../src/api/key-store.ts';
import { testRedis, uniquePrefix } from '../support/redis.ts';

let redis: Redis;
let store: ApiKeyStore;
const prefix = uniquePrefix('api-keys');

beforeAll(() => {
  redis = testRedis();
  store = new ApiKeyStore(redis, prefix);
});

afterAll(async () => {
  await redis.quit();
});

describe('ApiKeyStore', () => {
  it('creates a key that verifies, and stores only its hash', async () => {
    const { key, record } = await store.create({ name: 'ci-bot' });
    expect(key).toMatch(/^esk_[A-Za-z0-9_-]{43}$/);
    expect((await store.verify(key))?.id).toBe(record.id);

    // Everything stored, names and values: the hash is there, the key nowhere.
    const names = await redis.keys(`${prefix}:*`);
    const values = await Promise.all(
      names.map(async (k) => ((await redis.type(k)) === 'zset' ? redis.zrange(k, 0, '-1') : redis.get(k))),
    );
    const everything = JSON.stringify([names, values]);
    expect(everything).toContain(hashApiKey(key));
    expect(everything).not.toContain(key.slice(4));
  });

  it('does not verify a wrong, malformed or altered key', async () => {
    const { key } = await store.create({ name: 'second' });
    expect(await store.verify(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(await store.verify('not-a-key')).toBeUndefined();
    expect(await store.verify('')).toBeUndefined();
  });

  it('refuses a second key with the same name', async () => {
    await store.create({ name: 'unique-name' });
    await expect(store.create({ name: 'unique-name' })).rejects.toThrow(
      'A key named "unique-name" already exists.',
    );
  });

  it('lists keys in creation order with a hint, never the key', async () => {
    const listed = await store.list();
    expect(listed.map((k) => k.name)).toEqual(['ci-bot', 'second', 'unique-name']);
    for (const k of listed) expect(k.hint).toMatch(/^esk_.{4}$/);
  });

  it('revokes by name or id at once', async () => {
    const a = await store.create({ name: 'to-revoke-by-name' });
    const b = await store.create({ name: 'to-revoke-by-id' });
    expect((await store.revoke('to-revoke-by-name'))?.revokedAt).toBeTypeOf('number');
    expect((await store.revoke(b.record.id))?.revokedAt).toBeTypeOf('number');
    expect(await store.verify(a.key)).toBeUndefined();
    expect(await store.verify(b.key)).toBeUndefined();
    expect(await store.revoke('no-such-key')).toBeUndefined();
  });

  it('gives a key its own webhook secret when asked', async () => {
    const { record } = await store.create({ name: 'hooks', webhookSecret: true });
    expect(record.webhookSecret).toMatch(/^whsec_/);
    expect((await store.get(record.id))?.webhookSecret).toBe(record.webhookSecret);
  });
});
