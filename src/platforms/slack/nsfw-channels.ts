import type { Redis } from 'ioredis';

/**
 * Slack has no NSFW flag on channels (Discord has one), so a workspace's admins mark the channels
 * where the `allow-in-nsfw-channels` policy lets flagged images through (`/imagine-admin
 * nsfw-channel on`). One Redis set per workspace.
 */
export class NsfwChannels {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(teamId: string): string {
    return `${this.prefix}:slack:nsfw-channels:${teamId}`;
  }

  async mark(teamId: string, channelId: string, on: boolean): Promise<void> {
    if (on) await this.redis.sadd(this.key(teamId), channelId);
    else await this.redis.srem(this.key(teamId), channelId);
  }

  async isMarked(teamId: string, channelId: string): Promise<boolean> {
    return (await this.redis.sismember(this.key(teamId), channelId)) === 1;
  }

  async list(teamId: string): Promise<string[]> {
    return (await this.redis.smembers(this.key(teamId))).sort();
  }
}
