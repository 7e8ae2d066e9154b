import type { Redis } from 'ioredis';
import { StatusMarks } from '../status-marks.ts';

/**
 * Where each job's status message lives in Slack (channel, message ts, thread), kept in Redis so
 * the delivery worker, the progress updater and a restarted bot all find it. The parent message
 * is posted after admission (a refused request must leave no message behind), so the record is
 * written once with SET NX: whoever posts first (the frontend, or delivery falling back when the
 * frontend died before posting) owns the status message, and the other removes its duplicate.
 */
export interface StatusRecord {
  channelId: string;
  /** The message that shows queue position, progress and the outcome. */
  statusTs: string;
  /** The thread results go into: the parent itself for `/imagine`, the original parent for buttons. */
  threadTs: string;
  /** The member who asked (for ephemeral notices). */
  userId: string;
  /** Credits reserved for the job, shown on every re-render of the status message. */
  cost: number;
}

const TTL_S = 30 * 24 * 3600;

export class StatusStore extends StatusMarks {
  constructor(redis: Redis, prefix: string) {
    super(redis, `${prefix}:slack`);
  }

  /** Records the status message unless one is recorded already; returns the record that stands. */
  async claim(jobId: string, record: StatusRecord): Promise<{ won: boolean; record: StatusRecord }> {
    const set = await this.redis.set(this.key('status', jobId), JSON.stringify(record), 'EX', TTL_S, 'NX');
    if (set === 'OK') return { won: true, record };
    const existing = await this.get(jobId);
    return { won: false, record: existing ?? record };
  }

  async get(jobId: string): Promise<StatusRecord | undefined> {
    const text = await this.redis.get(this.key('status', jobId));
    if (!text) return undefined;
    try {
      return JSON.parse(text) as StatusRecord;
    } catch {
      return undefined;
    }
  }
}
