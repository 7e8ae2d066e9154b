import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';

/**
 * Failed authentications per client address, per minute (a fixed window). Past the limit, the
 * address's requests are answered 429 before their key is checked or their body read.
 *
 * Counted in Redis, not in process memory: behind a load balancer, every frontend sees a share of
 * one client's attempts, and only a shared count holds the limit to N rather than N per frontend.
 * Each frontend also remembers the addresses it found blocked until their window ends, so a
 * blocked client's flood costs that frontend no Redis round trip.
 *
 * An IPv6 client usually owns a whole /64, so IPv6 addresses are counted by their /64.
 */

const WINDOW_MS = 60_000;
/** Blocked addresses remembered locally; past this, the memory starts over (Redis still counts). */
const LOCAL_MAX = 10_000;

export interface AuthFailureLimiterOptions {
  redis: Redis;
  prefix: string;
  /** Failures allowed per address per minute; 0 turns the limit off. */
  perMinute: number;
  clock?: () => number;
}

export class AuthFailureLimiter {
  private readonly blockedUntil = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: AuthFailureLimiterOptions) {
    this.now = options.clock ?? Date.now;
  }

  /** Seconds until this address may try again, or undefined when it may try now. */
  async retryAfter(address: string): Promise<number | undefined> {
    if (this.options.perMinute === 0) return undefined;
    const group = addressGroup(address);
    const now = this.now();
    const local = this.blockedUntil.get(group);
    if (local !== undefined) {
      if (local > now) return secondsUntil(local, now);
      this.blockedUntil.delete(group);
    }
    const failures = Number((await this.options.redis.get(this.key(group, now))) ?? 0);
    if (failures < this.options.perMinute) return undefined;
    const until = windowEnd(now);
    if (this.blockedUntil.size >= LOCAL_MAX) this.blockedUntil.clear();
    this.blockedUntil.set(group, until);
    return secondsUntil(until, now);
  }

  async recordFailure(address: string): Promise<void> {
    if (this.options.perMinute === 0) return;
    const key = this.key(addressGroup(address), this.now());
    await this.options.redis
      .multi()
      .incr(key)
      .pexpire(key, WINDOW_MS * 2)
      .exec();
  }

  private key(group: string, now: number): string {
    return `${this.options.prefix}:authfail:${Math.floor(now / WINDOW_MS)}:${group}`;
  }
}

function windowEnd(now: number): number {
  return (Math.floor(now / WINDOW_MS) + 1) * WINDOW_MS;
}

function secondsUntil(until: number, now: number): number {
  return Math.max(1, Math.ceil((until - now) / 1000));
}

/** The unit a client is counted by: its IPv4 address (also when IPv4-mapped), or its IPv6 /64. */
export function addressGroup(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts
    .slice(0, 4)
    .map((p) => p.toString(16))
    .join(':')}::/64`;
}
