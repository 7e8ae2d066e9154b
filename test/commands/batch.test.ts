import { afterAll, describe, expect, it } from 'vitest';
import { handleAction } from '../../commands/actions.ts';
import { handleImagine } from '../../commands/imagine.ts';
import type { AdmissionInput, AdmissionResult } from '../../src/admission/types.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { loadRegistry } from '../../src/models/registry.ts';
import { testRedis, uniquePrefix } from '../support/redis.ts';

const redis = testRedis();
const prefix = uniquePrefix('batch');
afterAll(async () => {
  await redis.quit();
});
const member: MemberRef = { scope: { kind: 'discord', id: 'G1' }, userId: 'alice' };
const origin = { platform: 'cli' as const };

function services() {
  const admitted: AdmissionInput[] = [];
  const admission = {
    async admit(input: AdmissionInput): Promise<AdmissionResult> {
      admitted.push(input);
      return { accepted: true, jobId: `g${admitted.length}`, position: 1, cost: 1, balance: 9 };
    },
  };
  const jobs = {
    async get() {
      return undefined;
    },
    async cancel(): Promise<never> {
      throw new Error('not used');
    },
    async waitForResult() {
      return undefined;
    },
  };
  return {
    value: { admission, jobs, redis, prefix, config: parseConfig({}), registry: loadRegistry() },
    admitted,
  };
}

describe('--repeat and permutation batches', () => {
  it('holds the jobs for a confirmation, admitting nothing, with the total cost', async () => {
    const s = services();
    let seed = 100;
    const reply = await handleImagine(
      s.value,
      { requestId: 'r1', member, origin, text: 'a {red, blue} circle --repeat 2' },
      { randomSeed: () => seed++ },
    );
    expect(s.admitted).toEqual([]);
    expect(reply).toMatchObject({ status: 'confirm', totalCost: 4 });
    if (reply.status !== 'confirm') return;
    expect(reply.prompts).toEqual([
      'a red circle (seed 100)',
      'a red circle (seed 101)',
      'a blue circle (seed 102)',
      'a blue circle (seed 103)',
    ]);
  });

  it('steps through the seeds after a seed of the member’s own', async () => {
    const s = services();
    const reply = await handleImagine(s.value, {
      requestId: 'r2',
      member,
      origin,
      text: 'a cat --seed 42 --repeat 3',
    });
    expect(reply.status === 'confirm' && reply.prompts).toEqual([
      'a cat (seed 42)',
      'a cat (seed 43)',
      'a cat (seed 44)',
    ]);
  });

  it('admits each job once on confirmation: the first as a new prompt, the rest past the cooldown', async () => {
    const s = services();
    const reply = await handleImagine(s.value, {
      requestId: 'r3',
      member,
      origin,
      text: 'a {red, blue} square',
    });
    if (reply.status !== 'confirm') throw new Error('no confirmation');
    const other = await handleAction(s.value, {
      actionId: `e1:by:${reply.batchId}`,
      requestId: 'p0',
      member: { ...member, userId: 'mallory' },
      origin,
    });
    expect(other).toMatchObject({ status: 'refused', error: { identifier: 'forbidden' } });
    const taken = await handleAction(s.value, {
      actionId: `e1:by:${reply.batchId}`,
      requestId: 'p1',
      member,
      origin,
    });
    expect(taken.status).toBe('batch');
    const again = await handleAction(s.value, {
      actionId: `e1:by:${reply.batchId}`,
      requestId: 'p2',
      member,
      origin,
    });
    expect(again).toMatchObject({ status: 'refused', error: { identifier: 'not-found' } });
  });

  it('refuses a bad --repeat, too many jobs, and an attached image, admitting nothing', async () => {
    const s = services();
    for (const [text, message] of [
      ['a cat --repeat 0', /--repeat: must be a whole number from 1 to 4/],
      ['a cat --repeat two', /--repeat: must be a whole number from 1 to 4/],
      ['a {red, blue, green} cat --repeat 3', /make 9 jobs; at most 8/],
    ] as const) {
      const reply = await handleImagine(s.value, { requestId: text, member, origin, text });
      expect(reply.status === 'refused' && reply.error.message).toMatch(message);
    }
    const image = await handleImagine(s.value, {
      requestId: 'img',
      member,
      origin,
      text: 'a cat --repeat 2',
      initImage: 'art-1',
    });
    expect(image.status === 'refused' && image.error.message).toMatch(/attach an image to one prompt/);
    expect(s.admitted).toEqual([]);
    expect(await redis.keys(`${prefix}:batch:*`)).toHaveLength(2);
  });
});
