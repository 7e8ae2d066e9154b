import { describe, expect, it } from 'vitest';
import { handleAction } from '../../commands/actions.ts';
import { handleImagine, type ImagineServices } from '../../commands/imagine.ts';
import type { AdmissionInput, AdmissionResult } from '../../src/admission/types.ts';
import type { Services } from '../../src/app/services.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { UserError } from '../../src/errors/user-error.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { loadRegistry } from '../../src/models/registry.ts';
import type { GenerateResult, Origin } from '../../src/queue/job-data.ts';
import type { JobView } from '../../src/queue/job-view.ts';

/**
 * The mapping from input to admission and from admission's answer to a reply. Admission here is a
 * recording double; the real one (Redis, BullMQ) is exercised end to end by the frontends' tests.
 */
const member: MemberRef = { scope: { kind: 'slack', id: 'T1' }, userId: 'U1' };
const origin: Origin = { platform: 'cli' };

function services(answer: AdmissionResult | Error, config = parseConfig({})) {
  const admitted: AdmissionInput[] = [];
  const admission = {
    async admit(input: AdmissionInput): Promise<AdmissionResult> {
      admitted.push(input);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  const value: ImagineServices = { admission, registry: loadRegistry(), config };
  return { services: value, admitted };
}

const accepted: AdmissionResult = {
  accepted: true,
  jobId: 'g1',
  position: 3,
  cost: 4,
  balance: 21,
  etaSeconds: 12,
};

describe('handleImagine', () => {
  it('validates the text, admits the request and replies with the job, cost, position and seed used', async () => {
    const { services: s, admitted } = services(accepted);
    const reply = await handleImagine(
      s,
      { requestId: 'r1', member, origin, text: 'a red circle --n 4 --seed 42 --ar 16:9' },
      { randomSeed: () => 1 },
    );
    expect(admitted).toHaveLength(1);
    expect(admitted[0]).toMatchObject({ requestId: 'r1', member, origin });
    expect(admitted[0]!.request).toMatchObject({
      model: 'easel-mini',
      prompt: 'a red circle',
      count: 4,
      seed: 42,
      width: 704,
      height: 384,
    });
    expect(reply).toEqual({
      status: 'accepted',
      jobId: 'g1',
      cost: 4,
      position: 3,
      etaSeconds: 12,
      balance: 21,
      request: admitted[0]!.request,
      // "a red circle" is in easel-mini's vocabulary: no hint.
      warnings: [],
    });
  });

  it('uses DEFAULT_MODEL, typed Discord options, and an attached image as img2img', async () => {
    const { services: s, admitted } = services(accepted, parseConfig({ DEFAULT_MODEL: 'sd-1.5' }));
    await handleImagine(s, {
      requestId: 'r2',
      member,
      origin,
      options: { prompt: 'a cat', count: 2, guidance: 3 },
      initImage: 'art-1',
    });
    expect(admitted[0]!.request).toMatchObject({
      mode: 'img2img',
      model: 'sd-1.5',
      count: 2,
      guidance: 3,
      initImage: { artifactId: 'art-1' },
      strength: 0.75,
    });
  });

  it('refuses bad input before admission: nothing is admitted', async () => {
    const { services: s, admitted } = services(accepted);
    const reply = await handleImagine(s, { requestId: 'r3', member, origin, text: '--seed 12abc --n 9' });
    expect(admitted).toEqual([]);
    expect(reply.status).toBe('refused');
    if (reply.status !== 'refused') return;
    expect(reply.error.identifier).toBe('invalid-request');
    expect(reply.error.context.fields?.map((f) => f.field)).toEqual(['prompt', '--seed', '--n']);
  });

  it('refuses an image over MAX_PIXELS with the deployment limit', async () => {
    const { services: s } = services(accepted, parseConfig({ MAX_PIXELS: String(512 * 512) }));
    const reply = await handleImagine(s, {
      requestId: 'r4',
      member,
      origin,
      options: { prompt: 'x', aspect: '16:9' },
    });
    expect(reply.status === 'refused' && reply.error.message).toBe(
      'aspect: 704x384 is 270336 pixels, over your limit of 262144 pixels (512x512 fits)',
    );
  });

  it('passes admission refusals on as UserErrors with their reason and retry time', async () => {
    const { services: s } = services({
      accepted: false,
      reason: 'cooldown',
      refusal: { reason: 'cooldown', seconds: 4 },
      message: "You're on cooldown: try again in 4 seconds.",
      retryAfter: 4,
    });
    const reply = await handleImagine(s, { requestId: 'r5', member, origin, text: 'a cat' });
    expect(reply.status).toBe('refused');
    if (reply.status !== 'refused') return;
    expect(reply.error.identifier).toBe('cooldown');
    expect(reply.error.message).toBe("You're on cooldown: try again in 4 seconds.");
    expect(reply.error.context).toMatchObject({
      reason: 'cooldown',
      refusal: { reason: 'cooldown', seconds: 4 },
      retryAfter: 4,
    });
  });

  it('turns a UserError thrown by admission (queue unreachable) into a refusal and lets other errors through', async () => {
    const down = new UserError('unavailable', 'The image queue is unreachable right now.');
    const reply = await handleImagine(services(down).services, {
      requestId: 'r6',
      member,
      origin,
      text: 'a cat',
    });
    expect(reply).toEqual({ status: 'refused', error: down });
    await expect(
      handleImagine(services(new TypeError('bug')).services, {
        requestId: 'r7',
        member,
        origin,
        text: 'a cat',
      }),
    ).rejects.toThrow('bug');
  });
});

describe('handleAction', () => {
  const request = {
    mode: 'txt2img' as const,
    prompt: 'a lighthouse',
    negativePrompt: '',
    model: 'easel-mini',
    width: 512,
    height: 512,
    steps: 25,
    guidance: 4,
    sampler: 'ddim' as const,
    seed: 5,
    count: 2,
  };
  const result: GenerateResult = {
    v: 1,
    images: [0, 1].map((n) => ({
      artifactId: `a${n}`,
      width: 512,
      height: 512,
      bytes: 1,
      seed: 5 + n,
      nsfw: null,
    })),
    seed: 5,
    model: 'easel-mini',
    provider: 'cpu',
    truncatedWords: [],
    timings: { loadMs: 0, renderMs: 0, totalMs: 0 },
  };
  const job: JobView = {
    jobId: 'gjob',
    state: 'completed',
    data: { v: 1, requestId: 'r0', request, member, origin, cost: 2, createdAt: 0 },
    result,
    attemptsMade: 1,
    createdAt: 0,
  };

  function actionServices(found: JobView | undefined) {
    const admitted: AdmissionInput[] = [];
    const cancelled: string[] = [];
    const s: Pick<Services, 'admission' | 'jobs'> = {
      admission: {
        async admit(input) {
          admitted.push(input);
          return accepted;
        },
      },
      jobs: {
        async get() {
          return found;
        },
        async cancel(jobId) {
          cancelled.push(jobId);
          return { was: 'waiting', refunded: 2 };
        },
        async waitForResult() {
          return found;
        },
      },
    };
    return { s, admitted, cancelled };
  }

  it('admits the request a button makes, from the job in Redis', async () => {
    const { s, admitted } = actionServices(job);
    const reply = await handleAction(s, { actionId: 'e1:vs:gjob:1', requestId: 'press1', member, origin });
    expect(reply.status).toBe('accepted');
    expect(admitted[0]).toMatchObject({
      requestId: 'press1',
      request: {
        mode: 'variation',
        strength: 0.35,
        initImage: { artifactId: 'a1' },
        source: { jobId: 'gjob', index: 1 },
      },
    });
    expect(admitted[0]!.allowRepeat).toBeUndefined();
  });

  it('marks a reroll as an intended repeat', async () => {
    const { s, admitted } = actionServices(job);
    await handleAction(s, { actionId: 'e1:r:gjob', requestId: 'press2', member, origin });
    expect(admitted[0]!.allowRepeat).toBe(true);
    expect(admitted[0]!.request.seed).not.toBe(5);
  });

  it('cancels through the job service', async () => {
    const { s, cancelled } = actionServices(job);
    const reply = await handleAction(s, { actionId: 'e1:x:gjob', requestId: 'p', member, origin });
    expect(reply).toEqual({ status: 'cancelled', jobId: 'gjob', outcome: { was: 'waiting', refunded: 2 } });
    expect(cancelled).toEqual(['gjob']);
  });

  it('refuses broken ids, gone jobs, other scopes and unfinished jobs without admitting anything', async () => {
    const cases: [JobView | undefined, string, string][] = [
      [job, 'garbage', 'This button is not one easel knows'],
      [undefined, 'e1:u2:gjob:0', 'That job is gone'],
      [
        { ...job, data: { ...job.data, member: { ...member, scope: { kind: 'slack', id: 'T2' } } } },
        'e1:u2:gjob:0',
        'That job is gone',
      ],
      [{ ...job, state: 'active', result: undefined }, 'e1:u2:gjob:0', 'still rendering'],
      [{ ...job, state: 'failed', result: undefined }, 'e1:u2:gjob:0', 'did not finish'],
      [job, 'e1:i:gjob:0', 'region: required'],
    ];
    for (const [found, actionId, message] of cases) {
      const { s, admitted } = actionServices(found);
      const reply = await handleAction(s, {
        actionId,
        requestId: 'p',
        member,
        origin,
        extra: { prompt: 'hat' },
      });
      expect(reply.status, actionId).toBe('refused');
      if (reply.status === 'refused') expect(reply.error.message).toContain(message);
      expect(admitted).toEqual([]);
    }
  });
});
