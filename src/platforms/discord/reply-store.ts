import type { Redis } from 'ioredis';

/**
 * Where each job's status message is (channel and message id), in Redis, so delivery (perhaps in
 * another process), progress edits and a restarted bot all find it. The message is the reply to
 * the interaction that started the job; results go into a thread started from it.
 */
export interface ReplyRecord {
  channelId: string;
  messageId: string;
}

const TTL_S = 30 * 24 * 3600;

export class DiscordReplyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(kind: string, jobId: string): string {
    return `${this.prefix}:discord:${kind}:${jobId}`;
  }

  async set(jobId: string, record: ReplyRecord): Promise<void> {
    await this.redis.set(this.key('reply', jobId), JSON.stringify(record), 'EX', TTL_S);
  }

  async get(jobId: string): Promise<ReplyRecord | undefined> {
    const text = await this.redis.get(this.key('reply', jobId));
    return text ? (JSON.parse(text) as ReplyRecord) : undefined;
  }

  /** One progress edit per job per window, across every bot process. */
  async takeProgressSlot(jobId: string, windowMs: number): Promise<boolean> {
    return (await this.redis.set(this.key('progress', jobId), '1', 'PX', windowMs, 'NX')) === 'OK';
  }

  /** The job has ended (done, failed, cancelled): late progress events must not overwrite that. */
  async markFinal(jobId: string): Promise<void> {
    await this.redis.set(this.key('final', jobId), '1', 'EX', TTL_S);
  }

  async isFinal(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.key('final', jobId))) === 1;
  }
}
