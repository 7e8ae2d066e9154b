import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ScopeRef } from '../members/member-ref.ts';

/**
 * API keys. A key is 256 random bits; only its SHA-256 is stored (a fast hash is enough for a secret
 * with that much entropy, and it lets a request be authenticated with one GET). Each key has a
 * short public id, which is its credit scope (`{kind: 'api', id}`) and what `keys list` shows.
 *
 * Redis layout (under the queue prefix, so Redis Cluster keeps them in one slot):
 *   <prefix>:apikey:hash:<sha256>  -> JSON ApiKeyRecord   (authentication)
 *   <prefix>:apikey:id:<id>        -> sha256              (revoke by id)
 *   <prefix>:apikey:name:<name>    -> id                  (names are unique)
 *   <prefix>:apikeys               -> sorted set of ids by creation time (listing)
 */

export interface ApiKeyRecord {
  id: string;
  name: string;
  createdAt: number;
  /** The first characters of the key, so an operator can tell keys apart in `keys list`. */
  hint: string;
  /** Signs this key's webhooks instead of WEBHOOK_SECRET, when the key was created with one. */
  webhookSecret?: string;
  revokedAt?: number;
  /** The key's own rate limit on generation requests (key-rate.ts); absent: none. */
  rate?: KeyRate;
}

/** At most `limit` generation requests per `windowS` seconds. */
export interface KeyRate {
  limit: number;
  windowS: number;
}

export interface CreatedApiKey {
  record: ApiKeyRecord;
  /** The key itself: shown once, never stored. */
  key: string;
}

const KEY_PREFIX = 'esk_';

export function apiKeyScope(id: string): ScopeRef {
  return { kind: 'api', id };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class ApiKeyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  private k(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** Creates a key; refuses a name already in use (by a live or a revoked key). */
  async create(input: { name: string; webhookSecret?: boolean; rate?: KeyRate }): Promise<CreatedApiKey> {
    const name = input.name.trim();
    if (!/^[\w .@-]{1,64}$/.test(name)) {
      throw new Error('The name must be 1-64 letters, digits, spaces or . _ @ -');
    }
    const id = randomBytes(6).toString('hex');
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const hash = hashApiKey(key);
    const record: ApiKeyRecord = { id, name, createdAt: this.now(), hint: key.slice(0, 8) };
    if (input.rate) record.rate = input.rate;
    if (input.webhookSecret) record.webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;

    const claimed = await this.redis.set(this.k('apikey', 'name', name), id, 'NX');
    if (claimed !== 'OK') throw new Error(`A key named "${name}" already exists.`);
    await this.redis
      .multi()
      .set(this.k('apikey', 'hash', hash), JSON.stringify(record))
      .set(this.k('apikey', 'id', id), hash)
      .zadd(this.k('apikeys'), record.createdAt, id)
      .exec();
    return { record, key };
  }

  /** The live key record for a presented key, or undefined (unknown or revoked). */
  async verify(key: string): Promise<ApiKeyRecord | undefined> {
    if (!key.startsWith(KEY_PREFIX) || key.length > 128) return undefined;
    const raw = await this.redis.get(this.k('apikey', 'hash', hashApiKey(key)));
    if (!raw) return undefined;
    const record = JSON.parse(raw) as ApiKeyRecord;
    return record.revokedAt ? undefined : record;
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const hash = await this.redis.get(this.k('apikey', 'id', id));
    if (!hash) return undefined;
    const raw = await this.redis.get(this.k('apikey', 'hash', hash));
    return raw ? (JSON.parse(raw) as ApiKeyRecord) : undefined;
  }

  /** Finds a key by id or by name. */
  async find(idOrName: string): Promise<ApiKeyRecord | undefined> {
    const byId = await this.get(idOrName);
    if (byId) return byId;
    const id = await this.redis.get(this.k('apikey', 'name', idOrName.trim()));
    return id ? this.get(id) : undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const ids = await this.redis.zrange(this.k('apikeys'), 0, '-1');
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is ApiKeyRecord => r !== undefined);
  }

  /** Sets or removes (undefined) a key's rate limit; it applies from the key's next request. */
  async setRate(idOrName: string, rate: KeyRate | undefined): Promise<ApiKeyRecord | undefined> {
    const record = await this.find(idOrName);
    if (!record) return undefined;
    const hash = await this.redis.get(this.k('apikey', 'id', record.id));
    if (!hash) return undefined;
    const { rate: _old, ...rest } = record;
    const updated: ApiKeyRecord = rate ? { ...rest, rate } : rest;
    await this.redis.set(this.k('apikey', 'hash', hash), JSON.stringify(updated));
    return updated;
  }

  /** Revokes at once: the next request with the key gets 401. Returns the record, or undefined. */
  async revoke(idOrName: string): Promise<ApiKeyRecord | undefined> {
    const record = await this.find(idOrName);
    if (!record) return undefined;
    if (record.revokedAt) return record;
    const hash = await this.redis.get(this.k('apikey', 'id', record.id));
    if (!hash) return undefined;
    const revoked: ApiKeyRecord = { ...record, revokedAt: this.now() };
    await this.redis.set(this.k('apikey', 'hash', hash), JSON.stringify(revoked));
    return revoked;
  }
}
