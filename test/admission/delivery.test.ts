import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.ts';
import type { DeliverContext, Deliverer } from '../../src/delivery/deliverer.ts';
import { runOnce, StepInProgressError } from '../../src/delivery/once.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { DeliverJobData } from '../../src/queue/job-data.ts';
import { deliverJobOptions } from '../../src/queue/queues.ts';
import { startDeliverWorker } from '../../workers/deliver.ts';
import { testRedisUrl } from '../support/redis.ts';
import { member, request, testServices } from './support.ts';

let services: Services;
let prefix: string;

beforeAll(async () => {
  ({ services, prefix } = await testServices('delivery'));
});
afterAll(async () => {
  await services.close();
});

function deliverJob(jobId: string, platform: 'discord' | 'slack' | 'api' | 'cli'): DeliverJobData {
  const origins = {
    discord: {
      platform: 'discord' as const,
      applicationId: 'a',
      interactionId: 'i',
      interactionToken: 't',
      interactionCreatedAt: 0,
      guildId: 'g',
      channelId: 'c',
    },
    slack: { platform: 'slack' as const, teamId: 'T1', channelId: 'C1', userId: 'U1' },
    api: { platform: 'api' as const, keyId: 'k1' },
    cli: { platform: 'cli' as const },
  };
  return {
    v: 1,
    kind: 'failure',
    jobId,
    member: member('someone'),
    origin: origins[platform],
    request: request(),
    failure: { message: 'The render failed because of an internal error.', refunded: 1 },
  };
}

class RecordingDeliverer implements Deliverer {
  calls: { data: DeliverJobData; ctx: DeliverContext }[] = [];
  failTimes = 0;
  permanent = false;
  async deliver(data: DeliverJobData, ctx: DeliverContext): Promise<void> {
    this.calls.push({ data, ctx });
    if (this.permanent) throw new UnrecoverableError('channel is gone');
    if (this.failTimes-- > 0) throw new Error('HTTP 503');
  }
}

async function settled(jobId: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await services.queues.deliver.getJobState(jobId);
    if (state === 'completed' || state === 'failed') return state;
    if (Date.now() > deadline) throw new Error(`delivery ${jobId} still ${state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the deliver worker', () => {
  it("hands each job to its platform's deliverer, retries transient errors, and never calls for the CLI", async () => {
    const discord = new RecordingDeliverer();
    const slack = new RecordingDeliverer();
    slack.failTimes = 1;
    const worker = await startDeliverWorker({
      redisUrl: testRedisUrl(),
      prefix,
      deliverers: { discord, slack },
      logger: createLogger('silent'),
    });
    try {
      const fast = { ...deliverJobOptions(), backoff: { type: 'fixed' as const, delay: 10 } };
      await services.queues.deliver.add('failure', deliverJob('g1', 'discord'), { ...fast, jobId: 'd-1' });
      await services.queues.deliver.add('failure', deliverJob('g2', 'slack'), { ...fast, jobId: 'd-2' });
      await services.queues.deliver.add('failure', deliverJob('g3', 'cli'), { ...fast, jobId: 'd-3' });
      expect(await settled('d-1')).toBe('completed');
      expect(await settled('d-2')).toBe('completed');
      expect(await settled('d-3')).toBe('completed');
      expect(discord.calls.map((c) => [c.ctx.jobId, c.ctx.attempt])).toEqual([['g1', 1]]);
      expect(slack.calls.map((c) => [c.ctx.jobId, c.ctx.attempt])).toEqual([
        ['g2', 1],
        ['g2', 2],
      ]);
    } finally {
      await worker.close();
    }
  });

  it('stops at once on an unrecoverable error, and retries a platform with no deliverer here', async () => {
    const api = new RecordingDeliverer();
    api.permanent = true;
    const worker = await startDeliverWorker({
      redisUrl: testRedisUrl(),
      prefix,
      deliverers: { api },
      logger: createLogger('silent'),
    });
    try {
      const options = { ...deliverJobOptions(), backoff: { type: 'fixed' as const, delay: 10 } };
      await services.queues.deliver.add('failure', deliverJob('g4', 'api'), { ...options, jobId: 'd-4' });
      await services.queues.deliver.add('failure', deliverJob('g5', 'slack'), {
        ...options,
        attempts: 2,
        jobId: 'd-5',
      });
      expect(await settled('d-4')).toBe('failed');
      expect(api.calls).toHaveLength(1);
      expect(await settled('d-5')).toBe('failed');
      const job = await services.queues.deliver.getJob('d-5');
      expect(job?.attemptsMade).toBe(2);
      expect(job?.failedReason).toMatch(/no slack deliverer in this process/);
    } finally {
      await worker.close();
    }
  });
});

describe('exactly-once delivery steps', () => {
  it('runs a step once and hands its stored value to later runs', async () => {
    let posts = 0;
    const post = async () => {
      posts++;
      return { messageId: 'm-1' };
    };
    const first = await runOnce(services.redis, prefix, 'job-a', 'post', post);
    const second = await runOnce(services.redis, prefix, 'job-a', 'post', post);
    expect(first).toEqual({ ran: true, value: { messageId: 'm-1' } });
    expect(second).toEqual({ ran: false, value: { messageId: 'm-1' } });
    expect(posts).toBe(1);
  });

  it('runs the step again when it failed, and makes a concurrent run wait its turn', async () => {
    await expect(
      runOnce(services.redis, prefix, 'job-b', 'post', async () => {
        throw new Error('HTTP 500');
      }),
    ).rejects.toThrow('HTTP 500');
    let release: () => void = () => {};
    const slow = runOnce(
      services.redis,
      prefix,
      'job-b',
      'post',
      () => new Promise<string>((resolve) => (release = () => resolve('posted'))),
    );
    await new Promise((r) => setTimeout(r, 50));
    await expect(
      runOnce(services.redis, prefix, 'job-b', 'post', async () => 'twice'),
    ).rejects.toBeInstanceOf(StepInProgressError);
    release();
    expect(await slow).toEqual({ ran: true, value: 'posted' });
    expect(await runOnce(services.redis, prefix, 'job-b', 'post', async () => 'again')).toEqual({
      ran: false,
      value: 'posted',
    });
  });

  it('gives the platform deliverers the (key, effect) shape they take', async () => {
    let calls = 0;
    await services.once('job-c:thread', async () => {
      calls++;
    });
    await services.once('job-c:thread', async () => {
      calls++;
    });
    await services.once('job-c:images', async () => {
      calls++;
    });
    expect(calls).toBe(2);
  });
});
