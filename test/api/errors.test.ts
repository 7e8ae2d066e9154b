import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * Every refusal a client of the hosted Stable Diffusion APIs already handles, over real HTTP, and
 * that none of them costs a credit or leaves a job behind.
 */

let api: ApiHarness;
let key: string;
let keyId: string;

beforeAll(async () => {
  api = await startApiHarness({ name: 'api-errors', env: { API_BODY_LIMIT_MB: '20' } });
  const created = await api.newKey({ credits: 10 });
  key = created.key;
  keyId = created.record.id;
});

afterAll(async () => {
  await api?.close();
});

async function creditsLeft(id = keyId): Promise<number> {
  return (await api.services.credits.balance(keyMember(id))).total;
}

async function jobsQueued(): Promise<number> {
  const counts = await api.services.queues.generate.getJobCounts('wait', 'prioritized', 'active', 'delayed');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('authentication', () => {
  it('answers 401 "Invalid Api Key" with tips for a missing, unknown or revoked key', async () => {
    const revoked = await api.newKey();
    await api.keys.revoke(revoked.record.id);
    for (const attempt of [
      api.post('/v1/text2img', { prompt: 'a red circle' }),
      api.post('/v1/text2img', { prompt: 'a red circle', key: 'esk_not-a-real-key' }),
      api.post('/v1/text2img', { prompt: 'a red circle' }, { authorization: 'Bearer esk_wrong' }),
      api.post('/v1/text2img', { prompt: 'a red circle', key: revoked.key }),
      api.post('/v1/fetch/whatever', { key: 'nope' }),
    ]) {
      const answer = await attempt;
      expect(answer.status).toBe(401);
      expect(answer.body.status).toBe('error');
      expect(answer.body.message).toBe('Invalid Api Key');
      expect(answer.body.tips).toContain('Authorization: Bearer');
    }
  });

  it('takes the key from the body, a Bearer header or x-api-key', async () => {
    const ways = [
      api.post('/v1/text2img', { prompt: 'key in body', key }),
      api.post('/v1/text2img', { prompt: 'key as bearer' }, { authorization: `Bearer ${key}` }),
      api.post('/v1/text2img', { prompt: 'key as x-api-key' }, { 'x-api-key': key }),
    ];
    for (const answer of await Promise.all(ways)) {
      expect(answer.status).toBe(200);
      expect(answer.body.status).toBe('processing');
    }
  });
});

describe('validation', () => {
  it("answers 422 with the hosted APIs' shape when the prompt is missing", async () => {
    const answer = await api.post('/v1/text2img', { key });
    expect(answer.status).toBe(422);
    expect(answer.body).toEqual({ status: 'error', message: { prompt: ['The prompt field is required.'] } });
  });

  it('lists every bad field at once, each with its allowed range, and charges nothing', async () => {
    const before = await creditsLeft();
    const queued = await jobsQueued();
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'a lighthouse',
      width: 500,
      samples: 9,
      guidance_scale: 'lots',
      seed: -1,
      num_inference_steps: 500,
    });
    expect(answer.status).toBe(422);
    expect(answer.body.status).toBe('error');
    const fields = answer.body.message as Record<string, string[]>;
    expect(Object.keys(fields).sort()).toEqual(
      ['guidance_scale', 'num_inference_steps', 'samples', 'seed', 'width'].sort(),
    );
    expect(fields.width?.[0]).toContain('multiple of 64 from 320 to 1536');
    expect(fields.samples?.[0]).toContain('1 to 4');
    expect(await creditsLeft()).toBe(before);
    expect(await jobsQueued()).toBe(queued);
  });

  it('names fields of the wrong JSON type', async () => {
    const answer = await api.post('/v1/text2img', { key, prompt: 42, base64: { yes: true } });
    expect(answer.status).toBe(422);
    expect(answer.body.message.prompt).toEqual(['The prompt field must be text.']);
    expect(answer.body.message.base64).toEqual(['The base64 field must be true or false.']);
  });

  it('answers 422 when the body is not a JSON object', async () => {
    const answer = await api.post('/v1/text2img', [1, 2], { 'x-api-key': key });
    expect(answer.status).toBe(422);
    expect(answer.body.message.body?.[0]).toContain('JSON object');
  });

  it('answers 404 "Model id not found" for an unknown model', async () => {
    const answer = await api.post('/v1/text2img', { key, prompt: 'a cat', model_id: 'no-such-model' });
    expect(answer.status).toBe(404);
    expect(answer.body.status).toBe('error');
    expect(answer.body.message).toBe('Model id not found');
  });

  it('refuses init_image that is base64 but not an image, storing nothing', async () => {
    const before = await creditsLeft();
    const answer = await api.post('/v1/img2img', {
      key,
      prompt: 'make it blue',
      init_image: Buffer.from('definitely not a picture').toString('base64'),
    });
    expect(answer.status).toBe(422);
    expect(answer.body.message.init_image[0]).toContain('is not an image');
    expect(await creditsLeft()).toBe(before);
  });

  it('refuses a webhook to a private address', async () => {
    const answer = await api.post('/v1/text2img', { key, prompt: 'x', webhook: 'http://10.0.0.1/hook' });
    expect(answer.status).toBe(422);
    expect(answer.body.message.webhook[0]).toMatch(/private/);
  });
});

describe('credits and rate limits', () => {
  it('answers 402 when the key has not enough credits, and queues nothing', async () => {
    const poor = await api.newKey({ credits: 1 });
    const queued = await jobsQueued();
    const answer = await api.post('/v1/text2img', { key: poor.key, prompt: 'four images', samples: 4 });
    expect(answer.status).toBe(402);
    expect(answer.body.status).toBe('error');
    expect(answer.body.message).toBe('Not enough credits');
    expect(answer.body.tips).toContain('this costs 4 credits and you have 1 credit');
    expect(await jobsQueued()).toBe(queued);
    expect(await creditsLeft(poor.record.id)).toBe(1);
  });

  it('answers 429 with the seconds to wait for the same request twice within the duplicate window', async () => {
    const own = await api.newKey();
    const body = { key: own.key, prompt: 'the very same prompt', seed: 7 };
    expect((await api.post('/v1/text2img', body)).status).toBe(200);
    const again = await api.post('/v1/text2img', body);
    expect(again.status).toBe(429);
    expect(again.body.message).toBe('Rate limit exceeded');
    expect(again.body.retry_after).toBeGreaterThan(0);
    expect(again.body.retry_after).toBeLessThanOrEqual(30);
    expect(Number(again.headers.get('retry-after'))).toBe(again.body.retry_after);
  });

  it("answers 429 during a key's cooldown", async () => {
    const slow = await api.newKey({ cooldownS: 60 });
    expect((await api.post('/v1/text2img', { key: slow.key, prompt: 'first' })).status).toBe(200);
    const second = await api.post('/v1/text2img', { key: slow.key, prompt: 'second' });
    expect(second.status).toBe(429);
    expect(second.body.retry_after).toBeGreaterThan(50);
    expect(second.body.tips).toContain('cooldown');
  });

  it("answers 402 once the key's daily budget is spent", async () => {
    const capped = await api.newKey({ credits: 50, daily: 1 });
    expect((await api.post('/v1/text2img', { key: capped.key, prompt: 'one' })).status).toBe(200);
    const over = await api.post('/v1/text2img', { key: capped.key, prompt: 'two' });
    expect(over.status).toBe(402);
    expect(over.body.tips).toContain('daily image budget');
  });
});

describe('concurrent requests on the last credits', () => {
  it('accepts exactly as many as the credits pay for and never overspends', async () => {
    const last = await api.newKey({ credits: 3 });
    const queued = await jobsQueued();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api.post(
          '/v1/text2img',
          { prompt: `concurrent request ${i}` },
          { authorization: `Bearer ${last.key}` },
        ),
      ),
    );
    const codes = answers.map((a) => a.status);
    expect(codes.filter((c) => c === 200)).toHaveLength(3);
    expect(codes.filter((c) => c === 402)).toHaveLength(17);
    const balance = await api.services.credits.balance(keyMember(last.record.id));
    expect(balance.total).toBe(0);
    expect(balance.reserved).toBe(3);
    expect(await jobsQueued()).toBe(queued + 3);
  });
});

describe('transport', () => {
  it('answers 413 for a body over API_BODY_LIMIT_MB (a 50 MB init_image)', async () => {
    const huge = JSON.stringify({ key, prompt: 'x', init_image: 'A'.repeat(50 * 1024 * 1024) });
    const answer = await api.post('/v1/img2img', huge);
    expect(answer.status).toBe(413);
    expect(answer.body.status).toBe('error');
    expect(answer.body.message).toBe('Request body too large');
  });

  it('answers 415 for a body that is not JSON', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const answer = await api.post('/v1/text2img', `key=${key}&prompt=hi`, { 'content-type': type });
      expect(answer.status, type).toBe(415);
      expect(answer.body.message).toBe('Unsupported content type');
    }
  });

  it('answers 400 for broken JSON', async () => {
    const answer = await api.post('/v1/text2img', '{"prompt": "unterminated', { 'x-api-key': key });
    expect(answer.status).toBe(400);
    expect(answer.body.status).toBe('error');
  });

  it('answers 404 in the same shape for an unknown route', async () => {
    const answer = await api.get('/v1/nothing-here');
    expect(answer.status).toBe(404);
    expect(answer.body.status).toBe('error');
  });

  it("answers 404 for another key's job", async () => {
    const owner = await api.newKey();
    const other = await api.newKey();
    const queued = await api.post('/v1/text2img', { key: owner.key, prompt: 'mine' });
    const peek = await api.post(`/v1/fetch/${queued.body.id}`, { key: other.key });
    expect(peek.status).toBe(404);
    expect(peek.body.message).toBe('Job not found');
    const own = await api.post(`/v1/fetch/${queued.body.id}`, { key: owner.key });
    expect(own.body.status).toBe('processing');
  });
});
