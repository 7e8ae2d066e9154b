import type { Redis } from 'ioredis';
import { StatusMarks } from '../status-marks.ts';

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

export class DiscordReplyStore extends StatusMarks {
  constructor(redis: Redis, prefix: string) {
    super(redis, `${prefix}:discord`);
  }

  async set(jobId: string, record: ReplyRecord): Promise<void> {
    await this.redis.set(this.key('reply', jobId), JSON.stringify(record), 'EX', TTL_S);
  }

  async get(jobId: string): Promise<ReplyRecord | undefined> {
    const text = await this.redis.get(this.key('reply', jobId));
    return text ? (JSON.parse(text) as ReplyRecord) : undefined;
  }
}
