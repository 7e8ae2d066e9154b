import type { Redis } from 'ioredis';
import type { MemberRef } from '../members/member-ref.ts';
import type { Origin } from '../queue/job-data.ts';
import { StateKeys } from '../state/keys.ts';

/**
 * What a Vary (Region) link stands for beyond its signed claims: the member as the platform saw them
 * when they pressed (roles included, for quota tiers) and where the result goes. Kept in Redis under
 * the link's nonce until the link expires; taking it is one atomic GETDEL, so of two submissions
 * racing with the same link exactly one gets it. A submission that queues nothing (refused, bad
 * mask) puts it back, so the member can fix it and try again while the link lives.
 */
export interface RegionGrant {
  jobId: string;
  index: number;
  member: MemberRef;
  origin: Origin;
}

export class RegionGrants {
  private readonly keys: StateKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new StateKeys(prefix);
  }

  async put(nonce: string, grant: RegionGrant, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.regionGrant(nonce), JSON.stringify(grant), 'PX', Math.max(1, ttlMs));
  }

  /** The grant while the link is unused, without taking it (showing the page, serving the image). */
  async peek(nonce: string): Promise<RegionGrant | undefined> {
    return parse(await this.redis.get(this.keys.regionGrant(nonce)));
  }

  /** Takes the grant: only one caller ever gets it. */
  async take(nonce: string): Promise<RegionGrant | undefined> {
    return parse(await this.redis.getdel(this.keys.regionGrant(nonce)));
  }

  /** Gives a taken grant back (nothing was queued), for the link's remaining time. */
  async giveBack(nonce: string, grant: RegionGrant, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    await this.redis.set(this.keys.regionGrant(nonce), JSON.stringify(grant), 'PX', ttlMs, 'NX');
  }
}

function parse(text: string | null): RegionGrant | undefined {
  return text === null ? undefined : (JSON.parse(text) as RegionGrant);
}
