import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { parseKeyRate } from '../../src/api/key-rate.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * What applies to an API key whatever face it uses: no cooldown and no pending cap unless set on the
 * key, its own rate limit answered 429 with Retry-After in each face's shape, the duplicate filter;
 * and the leniency every face gets (strings for numbers and flags, null for absent, neutral fields,
 * a body without Content-Type), with /v1 naming the fields it ignored.
 */

let api: ApiHarness;

beforeAll(async () => {
  // No workers: jobs stay queued, so the pending cap is what would stop them.
  api = await startApiHarness({
    name: 'api-keys-rates',
    env: { DEFAULT_PENDING_CAP: '2', DEFAULT_COOLDOWN_S: '5', API_SYNC_FACE_WAIT_MS: '1000' },
  });
}, 60_000);

afterAll(async () => {
  await api?.close();
});

/** The answer's warnings about fields (the tiny model also warns about prompts it cannot draw). */
function fieldWarnings(body: { warnings?: string[] }): string[] {
  return (body.warnings ?? []).filter((w) => w.startsWith('Unknown field'));
}

describe('parseKeyRate', () => {
  it('reads requests per second, minute, hour or day, and off', () => {
    expect(parseKeyRate('60/min')).toEqual({ limit: 60, windowS: 60 });
    expect(parseKeyRate('5/s')).toEqual({ limit: 5, windowS: 1 });
    expect(parseKeyRate('1000 / hours')).toEqual({ limit: 1000, windowS: 3600 });
    expect(parseKeyRate('10000/day')).toEqual({ limit: 10000, windowS: 86_400 });
    expect(parseKeyRate('off')).toBeUndefined();
  });

  it('refuses what is not a rate, saying how to write one', () => {
    for (const bad of ['60', 'sixty/min', '60/fortnight', '0/min', '-1/s']) {
      expect(() => parseKeyRate(bad), bad).toThrow(/60\/min/);
    }
  });
});

describe('limits of an API key', () => {
  it('has no cooldown and no pending cap unless set on the key', async () => {
    const { key } = await api.newKey({ credits: 20 });
    // DEFAULT_PENDING_CAP is 2 and DEFAULT_COOLDOWN_S 5 for chat members; a key queues 5 at once.
    for (let i = 0; i < 5; i++) {
      const answer = await api.post('/v1/text2img', { key, prompt: `a lighthouse number ${i}` });
      expect(answer.body.status, JSON.stringify(answer.body)).toBe('processing');
    }
    const capped = await api.newKey({ credits: 20, pendingCap: 1 });
    expect((await api.post('/v1/text2img', { key: capped.key, prompt: 'a boat' })).status).toBe(200);
    const second = await api.post('/v1/text2img', { key: capped.key, prompt: 'a second boat' });
    expect(second.status).toBe(429);
  });

  it('answers its own rate with 429 and Retry-After, in each face’s error shape, charging nothing', async () => {
    const created = await api.newKey({ credits: 20, rate: { limit: 2, windowS: 60 } });
    const { key } = created;
    const member = keyMember(created.record.id);
    expect((await api.post('/v1/text2img', { key, prompt: 'a red door' })).status).toBe(200);
    expect((await api.post('/api/v3/text2img', { key, prompt: 'a blue door' })).status).toBe(200);
    const before = (await api.services.credits.balance(member)).total;

    const easel = await api.post('/v1/text2img', { key, prompt: 'a green door' });
    expect(easel.status).toBe(429);
    expect(Number(easel.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(easel.body).toMatchObject({
      status: 'error',
      message: 'Rate limit exceeded',
      retry_after: expect.any(Number),
    });

    const modelslab = await api.post('/api/v3/text2img', { key, prompt: 'a yellow door' });
    expect(modelslab.status).toBe(429);
    expect(modelslab.headers.get('retry-after')).not.toBeNull();
    expect(modelslab.body).toMatchObject({
      status: 'error',
      message: 'Rate limit exceeded',
      tips: expect.stringMatching(/2\/min/),
    });

    const segmind = await api.post('/v1/sd2.1-txt2img', { prompt: 'a white door' }, { 'x-api-key': key });
    expect(segmind.status).toBe(429);
    expect(segmind.headers.get('retry-after')).not.toBeNull();
    expect(segmind.body).toEqual({ error: expect.stringMatching(/Rate limit exceeded/) });

    const aithriving = await api.post(
      '/api/generate/sd3/textToImage',
      { prompt: 'a pink door' },
      { authorization: key },
    );
    expect(aithriving.status).toBe(429);
    expect(aithriving.body).toMatchObject({ code: -1 });

    const pipeline = await api.post('/sd3/v1', { prompt: 'a grey door' }, { 'API-Key': key });
    expect(pipeline.status).toBe(429);
    expect(pipeline.body.status).toBe('FAILURE');

    expect((await api.services.credits.balance(member)).total).toBe(before);
    // Raised on the existing key, it applies from the next request.
    await api.keys.setRate(created.record.id, { limit: 100, windowS: 60 });
    expect((await api.post('/v1/text2img', { key, prompt: 'an orange door' })).status).toBe(200);
  });

  it('keeps the 30-second duplicate filter', async () => {
    const { key } = await api.newKey({ credits: 20 });
    const body = { key, prompt: 'the same castle twice', seed: 7 };
    expect((await api.post('/v1/text2img', body)).status).toBe(200);
    const again = await api.post('/api/v3/text2img', body);
    expect(again.status).toBe(429);
    expect(again.body.message).toBe('Rate limit exceeded');
  });
});

describe('leniency', () => {
  it('ignores strength 1 on text to image, and reads "512", "yes" and null as a client meant them', async () => {
    const { key } = await api.newKey({ credits: 20 });
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'a windmill',
      strength: 1,
      width: '512',
      height: '384',
      samples: '2',
      seed: null,
      base64: 'yes',
      webhook: null,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.meta).toMatchObject({ width: 512, height: 384, samples: 2 });
    expect(answer.body.meta.strength).toBeUndefined();
    expect(fieldWarnings(answer.body)).toEqual([]);
    // A strength that would change something still is refused, by name.
    const real = await api.post('/v1/text2img', { key, prompt: 'a windmill at dusk', strength: 0.5 });
    expect(real.status).toBe(422);
    expect(real.body.message.strength[0]).toMatch(/starts? from an image/);
  });

  it('reads a body without Content-Type as JSON', async () => {
    const { key } = await api.newKey({ credits: 20 });
    const response = await fetch(`${api.url}/v1/text2img`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: Buffer.from(JSON.stringify({ prompt: 'a quiet harbour' })),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe('processing');
  });

  it('lists ignored fields in /v1 warnings, with the field it probably meant', async () => {
    const { key } = await api.newKey({ credits: 20 });
    const answer = await api.post('/v1/text2img', { key, prompt: 'two foxes', sampels: 2, colour: 'red' });
    expect(answer.status).toBe(200);
    expect(answer.body.meta.samples).toBe(1);
    expect(fieldWarnings(answer.body)).toEqual([
      'Unknown field "sampels" was ignored (did you mean "samples"?).',
      'Unknown field "colour" was ignored.',
    ]);
    // The hosted faces ignore them quietly, as the APIs they copy do.
    const hosted = await api.post('/api/v3/text2img', { key, prompt: 'two owls', sampels: 2 });
    expect(hosted.status).toBe(200);
    expect(fieldWarnings(hosted.body)).toEqual([]);
  });
});

describe('while the render is still queued', () => {
  it('answers modelslab processing with its own fetch URL, and imagepipeline PENDING with the id', async () => {
    const { key } = await api.newKey({ credits: 20 });
    const queued = await api.post('/api/v3/text2img', { key, prompt: 'a red circle, queued' });
    expect(queued.body).toMatchObject({ status: 'processing', id: expect.any(String) });
    expect(queued.body.fetch_result).toBe(`${api.url}/api/v3/fetch/${queued.body.id}`);
    // The future link is known now and answers "not ready" until the render is done.
    expect(queued.body.future_links).toEqual([`${api.url}/v1/jobs/${queued.body.id}/images/0.png`]);
    const early = await fetch(queued.body.future_links[0]);
    expect(early.status).toBe(404);
    expect(((await early.json()) as { message: string }).message).toBe('Image not ready');
    const fetched = await api.post(`/api/v3/fetch/${queued.body.id}`, { key });
    expect(fetched.body).toMatchObject({ status: 'processing', id: queued.body.id });
    const v6 = await api.post('/api/v6/images/text2img', { key, prompt: 'a red circle, queued in v6' });
    expect(v6.body.fetch_result).toBe(`${api.url}/api/v6/images/fetch/${v6.body.id}`);

    const pending = await api.post(
      '/sd3/v1',
      { prompt: 'a blue square, queued', samples: 2, queued_image_urls: true },
      { 'API-Key': key },
    );
    expect(pending.body).toMatchObject({ status: 'PENDING', id: expect.any(String) });
    expect(pending.body.download_urls).toEqual(
      [0, 1].map((n) => `${api.url}/v1/jobs/${pending.body.id}/images/${n}.png`),
    );
    const status = await api.get(`/sd3/v1/status/${pending.body.id}`, { 'API-Key': key });
    expect(status.body).toMatchObject({ status: 'PENDING', id: pending.body.id });
    // Another key's job is not found, whichever face asks.
    const other = await api.newKey({ credits: 1 });
    expect((await api.get(`/sd3/v1/status/${pending.body.id}`, { 'API-Key': other.key })).status).toBe(404);
  });

  it('cancels and refunds a synchronous face’s render that does not finish in API_SYNC_FACE_WAIT_MS', async () => {
    const created = await api.newKey({ credits: 20 });
    const member = keyMember(created.record.id);
    const aithriving = await api.post(
      '/api/generate/sd3/textToImage',
      { prompt: 'a slow lighthouse', width: 512, height: 512 },
      { authorization: created.key },
    );
    expect(aithriving.status).toBe(504);
    expect(aithriving.body).toEqual({ code: -1, message: expect.stringMatching(/not charged/) });
    const segmind = await api.post(
      '/v1/sd2.1-txt2img',
      { prompt: 'a slow cat' },
      { 'x-api-key': created.key },
    );
    expect(segmind.status).toBe(504);
    expect(segmind.body.error).toMatch(/cancelled/);
    const balance = await api.services.credits.balance(member);
    expect([balance.total, balance.reserved]).toEqual([20, 0]);
  });
});
