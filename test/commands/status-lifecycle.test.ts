import { describe, expect, it } from 'vitest';
import {
  cancellable,
  postQueuedStatus,
  type StatusJob,
  type StatusPoster,
  type StatusState,
} from '../../commands/status-lifecycle.ts';
import { tinyRequest } from '../support/tiny-models.ts';

const request = tinyRequest({ seed: 31 });

describe('posting the status of an accepted job', () => {
  it('posts it queued, at its place in line with the ETA, with what it cost and what is left', async () => {
    const posts: { jobId: string; job: StatusJob; state: StatusState; balance?: number }[] = [];
    const poster: StatusPoster<string> = {
      post: async (jobId, job, state, balance) => {
        posts.push({ jobId, job, state, ...(balance !== undefined ? { balance } : {}) });
        return `message-of-${jobId}`;
      },
    };
    const where = await postQueuedStatus(
      poster,
      { jobId: 'g1', cost: 2, balance: 8, position: 3, etaSeconds: 40, request },
      { member: { scope: { kind: 'slack', id: 'T1' }, userId: 'U1' }, origin: { platform: 'cli' } },
    );
    expect(where).toBe('message-of-g1');
    expect(posts).toEqual([
      {
        jobId: 'g1',
        job: expect.objectContaining({ cost: 2, request }),
        state: { kind: 'queued', position: 3, etaSeconds: 40 },
        balance: 8,
      },
    ]);
  });

  it('keeps Cancel while queued or rendering, and drops it once the job ended', () => {
    expect(cancellable({ kind: 'queued', position: 1 })).toBe(true);
    expect(cancellable({ kind: 'rendering', step: 1, total: 4 })).toBe(true);
    expect(cancellable({ kind: 'done' })).toBe(false);
    expect(cancellable({ kind: 'failed', message: 'x', refunded: 0 })).toBe(false);
    expect(cancellable({ kind: 'cancelled', byUserId: 'U1', refunded: 1 })).toBe(false);
  });
});
