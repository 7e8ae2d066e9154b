import type { Redis } from 'ioredis';
import { ApiError } from './api-error.ts';
import type { ApiKeyRecord, KeyRate } from './key-store.ts';

/**
 * A key's own rate limit (`easel keys create --rate 60/min`): at most `limit` generation requests per
 * window, the window starting with the window's first request. Past it, the request is refused with
 * 429 and Retry-After (the seconds until the window ends) before anything is checked or reserved.
 *
 * Counted in Redis so that every API frontend behind a load balancer shares one count per key.
 */

const UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  m: 60,
  min: 60,
  minute: 60,
  h: 3600,
  hour: 3600,
  d: 86_400,
  day: 86_400,
};

/** `60/min`, `5/s`, `1000/hour`, `10000/day`; `off` (or `0`) is no limit (undefined). */
export function parseKeyRate(text: string): KeyRate | undefined {
  const value = text.trim().toLowerCase();
  if (value === 'off' || value === 'none' || value === '0') return undefined;
  const match = /^(\d{1,7})\s*\/\s*([a-z]+)$/.exec(value);
  const windowS = match ? (UNITS[match[2]!.replace(/s$/, '')] ?? UNITS[match[2]!]) : undefined;
  const limit = match ? Number(match[1]) : 0;
  if (!match || windowS === undefined || limit < 1) {
    throw new Error(
      `"${text.slice(0, 40)}" is not a rate: write requests per unit, such as 60/min, 5/s, 1000/hour or 10000/day (off: no limit).`,
    );
  }
  return { limit, windowS };
}

export function describeKeyRate(rate: KeyRate | undefined): string {
  if (!rate) return 'no limit';
  const unit = Object.entries(UNITS).find(([name, s]) => s === rate.windowS && name.length > 1)?.[0];
  return unit ? `${rate.limit}/${unit}` : `${rate.limit} per ${rate.windowS} s`;
}

export class KeyRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Counts one request of the key; throws the 429 when it is over its rate. */
  async check(key: ApiKeyRecord): Promise<void> {
    const rate = key.rate;
    if (!rate) return;
    const counter = `${this.prefix}:apikey:rate:${key.id}`;
    const replies = await this.redis
      .multi()
      .set(counter, '0', 'PX', rate.windowS * 1000, 'NX')
      .incr(counter)
      .pttl(counter)
      .exec();
    const count = Number(replies?.[1]?.[1] ?? 0);
    const leftMs = Number(replies?.[2]?.[1] ?? rate.windowS * 1000);
    if (count <= rate.limit) return;
    throw ApiError.rateLimited(
      Math.max(1, leftMs) / 1000,
      `This key may send ${describeKeyRate(rate)} generation requests; wait for the Retry-After seconds, ` +
        'or ask the operator for a higher rate (easel keys set KEY --rate N/min).',
    );
  }
}
