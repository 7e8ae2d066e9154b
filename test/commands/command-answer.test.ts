import { describe, expect, it } from 'vitest';
import type { CommandReply } from '../../commands/admit-and-reply.ts';
import {
  answerCommand,
  type CommandSurface,
  type PrivateNotice,
  postAccepted,
} from '../../commands/command-answer.ts';
import type { StatusState } from '../../commands/status-lifecycle.ts';
import { UserError } from '../../src/errors/user-error.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import type { Origin } from '../../src/queue/job-data.ts';
import { tinyRequest } from '../support/tiny-models.ts';

const request = tinyRequest({ seed: 31 });
const member: MemberRef = { scope: { kind: 'slack', id: 'T1' }, userId: 'U1' };
const origin: Origin = { platform: 'cli' };
const logger = createLogger('silent');

type Event =
  | { did: 'post'; jobId: string; cost?: number; state: StatusState; balance?: number }
  | { did: 'tell'; notice: PrivateNotice }
  | { did: 'cancel'; jobId: string; userId: string; isAdmin?: boolean };

/** A surface that records what the neutral flow asked of it, in order; `refusePosts` plays a platform that will not take the message. */
function recordingWorld(options: { refusePosts?: Error; refunded?: number; cancelFails?: boolean } = {}) {
  const events: Event[] = [];
  const recorded = new Map<string, string>();
  const surface: CommandSurface<string> = {
    async post(jobId, job, state, balance) {
      events.push({
        did: 'post',
        jobId,
        cost: job.cost,
        state,
        ...(balance !== undefined ? { balance } : {}),
      });
      if (options.refusePosts) throw options.refusePosts;
      recorded.set(jobId, `message-of-${jobId}`);
      return `message-of-${jobId}`;
    },
    async tellPrivately(notice) {
      events.push({ did: 'tell', notice });
    },
  };
  const jobs = {
    async cancel(jobId: string, who: MemberRef, opts?: { isAdmin?: boolean }) {
      events.push({
        did: 'cancel',
        jobId,
        userId: who.userId,
        ...(opts?.isAdmin !== undefined ? { isAdmin: opts.isAdmin } : {}),
      });
      if (options.cancelFails) throw new Error('Redis went away');
      return { was: 'waiting' as const, refunded: options.refunded ?? 0 };
    },
  };
  return { events, recorded, deps: { surface, jobs, logger } };
}

function accepted(overrides: Partial<Extract<CommandReply, { status: 'accepted' }>> = {}) {
  return {
    status: 'accepted' as const,
    jobId: 'g1',
    cost: 2,
    position: 3,
    etaSeconds: 40,
    balance: 8,
    request,
    warnings: [],
    ...overrides,
  };
}

describe('answering a command', () => {
  it('posts an accepted job queued, at its place in line with the ETA, what it cost and what is left, and records it', async () => {
    const world = recordingWorld();
    const where = await answerCommand(world.deps, accepted(), { member, origin });
    expect(where).toBe('message-of-g1');
    expect(world.recorded.get('g1')).toBe('message-of-g1');
    expect(world.events).toEqual([
      {
        did: 'post',
        jobId: 'g1',
        cost: 2,
        state: { kind: 'queued', position: 3, etaSeconds: 40 },
        balance: 8,
      },
    ]);
  });

  it('tells the hints privately after the status is posted, never inside it', async () => {
    const world = recordingWorld();
    await answerCommand(world.deps, accepted({ warnings: ['"zorp" is not a word the model knows.'] }), {
      member,
      origin,
    });
    expect(world.events.map((e) => e.did)).toEqual(['post', 'tell']);
    expect(world.events[1]).toEqual({
      did: 'tell',
      notice: { kind: 'hint', text: '"zorp" is not a word the model knows.' },
    });
  });

  it('tells a refusal privately and posts nothing', async () => {
    const world = recordingWorld();
    const error = new UserError('insufficient-credits', 'You have 1 credit; this costs 2.');
    const where = await answerCommand(world.deps, { status: 'refused', error }, { member, origin });
    expect(where).toBeUndefined();
    expect(world.events).toEqual([{ did: 'tell', notice: { kind: 'refusal', error } }]);
    expect(world.recorded.size).toBe(0);
  });

  it('asks privately to confirm a batch and posts nothing', async () => {
    const world = recordingWorld();
    const reply = {
      status: 'confirm' as const,
      batchId: 'b1',
      prompts: ['a red fox', 'a blue fox'],
      totalCost: 4,
    };
    await answerCommand(world.deps, reply, { member, origin });
    expect(world.events).toEqual([{ did: 'tell', notice: { ...reply, kind: 'confirm' } }]);
  });

  it('cancels and refunds the job when the platform refuses its status, and tells the member why', async () => {
    const refusal = Object.assign(new Error('An API error occurred: not_in_channel'), {
      code: 'not_in_channel',
    });
    const world = recordingWorld({ refusePosts: refusal, refunded: 2 });
    const where = await answerCommand(world.deps, accepted({ warnings: ['a hint'] }), { member, origin });
    expect(where).toBeUndefined();
    expect(world.events).toEqual([
      expect.objectContaining({ did: 'post', jobId: 'g1' }),
      { did: 'cancel', jobId: 'g1', userId: 'U1', isAdmin: true },
      // No hint for a job that is gone.
      { did: 'tell', notice: { kind: 'unposted', error: refusal, refunded: 2 } },
    ]);
    expect(world.recorded.size).toBe(0);
  });

  it('still tells the member when the cancel itself fails, saying nothing was refunded', async () => {
    const world = recordingWorld({ refusePosts: new Error('is_archived'), refunded: 2, cancelFails: true });
    await postAccepted(world.deps, accepted(), { member, origin });
    expect(world.events.at(-1)).toEqual({
      did: 'tell',
      notice: { kind: 'unposted', error: expect.any(Error), refunded: 0 },
    });
  });
});
