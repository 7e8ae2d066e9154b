import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleImagine, type ImagineServices } from '../../commands/imagine.ts';
import type { AdmissionInput, AdmissionResult } from '../../src/admission/types.ts';
import { keyMember } from '../../src/api/key-admin.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { loadRegistry } from '../../src/models/registry.ts';
import { type ApiHarness, startApiHarness } from '../api/api-harness.ts';

/**
 * A negative prompt on a model that renders without classifier-free guidance (seed 002: it "does
 * not work with sd3-large-turbo") is refused by the one validator every frontend goes through, with
 * the model named, before admission: nothing reserved, nothing queued. The chat frontends (Discord's
 * typed options, Slack's and the CLI's flags) reach it through handleImagine, the REST API through
 * its generation routes.
 */
const REFUSAL =
  'negative prompts do not work with sd3.5-large-turbo: it renders without classifier-free guidance, so the negative prompt would be ignored; leave it out';

describe('chat frontends (handleImagine)', () => {
  const member: MemberRef = { scope: { kind: 'discord', id: 'G1' }, userId: 'U1' };
  const admitted: AdmissionInput[] = [];
  const services: ImagineServices = {
    admission: {
      async admit(input: AdmissionInput): Promise<AdmissionResult> {
        admitted.push(input);
        return { accepted: true, jobId: 'g1', position: 1, cost: 1, balance: 9 };
      },
    },
    registry: loadRegistry(),
    config: parseConfig({}),
  };

  it.each([
    ['Slack and the CLI: the --no flag', { text: 'a fox in snow --model sd3-large-turbo --no blurry' }],
    [
      "Discord's typed options",
      { options: { prompt: 'a fox in snow', negative: 'blurry', model: 'sd3-large-turbo' } },
    ],
  ])('%s: refused with the model named, nothing admitted', async (_, request) => {
    admitted.length = 0;
    const reply = await handleImagine(services, {
      requestId: 'r1',
      member,
      origin: { platform: 'cli' },
      ...request,
    });
    expect(reply.status).toBe('refused');
    if (reply.status !== 'refused') return;
    expect(reply.error.identifier).toBe('invalid-request');
    expect(reply.error.message).toContain(REFUSAL);
    expect(admitted).toEqual([]);
  });

  it('the same request without the negative prompt is admitted', async () => {
    admitted.length = 0;
    const reply = await handleImagine(services, {
      requestId: 'r2',
      member,
      origin: { platform: 'cli' },
      text: 'a fox in snow --model sd3-large-turbo',
    });
    expect(reply.status).toBe('accepted');
    expect(admitted).toHaveLength(1);
    expect(admitted[0]!.request).toMatchObject({ model: 'sd3.5-large-turbo', guidance: 0, steps: 4 });
  });
});

describe('REST API (real server, real Redis)', () => {
  let api: ApiHarness;
  let key: string;
  let keyId: string;

  beforeAll(async () => {
    api = await startApiHarness({ name: 'turbo-negative' });
    const created = await api.newKey({ credits: 20 });
    key = created.key;
    keyId = created.record.id;
  }, 120_000);

  afterAll(async () => {
    await api?.close();
  });

  it('answers 4xx naming the field and the model, and charges nothing', async () => {
    const before = (await api.services.credits.balance(keyMember(keyId))).total;
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'a fox in snow',
      negative_prompt: 'blurry',
      model_id: 'sd3-large-turbo',
    });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.body.status).toBe('error');
    expect(JSON.stringify(answer.body)).toContain(REFUSAL);
    expect((await api.services.credits.balance(keyMember(keyId))).total).toBe(before);
    const counts = await api.services.queues.generate.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
  });
});
