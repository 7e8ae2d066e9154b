import type { Redis } from 'ioredis';

/**
 * The two marks every platform's status message needs in Redis, shared by all of its bot
 * processes: a progress-edit slot (one edit per job per window, however many processes hear the
 * progress) and "final" (done, failed or cancelled: a late progress event must not set the message
 * back to rendering). Each platform's status store extends this with where its message lives.
 */
const FINAL_TTL_S = 30 * 24 * 3600;

export class StatusMarks {
  constructor(
    protected readonly redis: Redis,
    /** The platform's key space, e.g. `{easel}:discord`. */
    private readonly space: string,
  ) {}

  protected key(kind: string, jobId: string): string {
    return `${this.space}:${kind}:${jobId}`;
  }

  /** True for the one caller that may edit the job's status in this window. */
  async takeProgressSlot(jobId: string, windowMs: number): Promise<boolean> {
    return (await this.redis.set(this.key('progress', jobId), '1', 'PX', windowMs, 'NX')) === 'OK';
  }

  async markFinal(jobId: string): Promise<void> {
    await this.redis.set(this.key('final', jobId), '1', 'EX', FINAL_TTL_S);
  }

  async isFinal(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.key('final', jobId))) === 1;
  }
}
