import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StateKeys } from '../state/keys.ts';

/**
 * The key Vary (Region) links are signed with. Every host that makes links (the Discord and Slack
 * roles) and every host that checks them (the api role) must hold the same one. REGION_EDITOR_SECRET
 * when set; otherwise one random 32-byte key, created once in Redis (`SET NX`, so hosts starting
 * together agree on the first) and read by every host. Redis is already where all of easel's state
 * lives, and anyone who can read it can queue jobs anyway, so the key is no weaker there; set the
 * variable to keep it out of Redis (and to rotate it: change it and restart every role).
 */
export class RegionSecret {
  private cached: Promise<string> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly configured: string | undefined,
  ) {}

  get(): Promise<string> {
    if (this.configured) return Promise.resolve(this.configured);
    this.cached ??= this.fromRedis().catch((error: unknown) => {
      // Not cached: Redis may be back on the next press.
      this.cached = undefined;
      throw error;
    });
    return this.cached;
  }

  private async fromRedis(): Promise<string> {
    const key = new StateKeys(this.prefix).regionSecret;
    await this.redis.set(key, randomBytes(32).toString('base64url'), 'NX');
    const secret = await this.redis.get(key);
    if (!secret) throw new Error('the Vary (Region) secret vanished from Redis right after it was set');
    return secret;
  }
}
