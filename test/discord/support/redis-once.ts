import type { Redis } from 'ioredis';
import type { Once } from '../../../src/platforms/discord/deliver-discord.ts';

/** Records each effect in Redis after it succeeded, and skips it when recorded. */
export function redisOnce(redis: Redis, prefix: string): Once {
  return async (key, effect) => {
    const done = `${prefix}:once:${key}`;
    if ((await redis.exists(done)) === 1) return;
    await effect();
    await redis.set(done, '1', 'EX', 86_400);
  };
}
