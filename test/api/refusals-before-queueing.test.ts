import { readdirSync } from 'node:fs';
import http from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { TEXT_MAX_CHARS } from '../../src/api/text-limits.ts';
import { type AnswerBody, type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * What can be known when a request arrives is checked then: over-long fields, invisible prompts,
 * a mask that does not fit its image, an upscale too large for the server, a model no worker has,
 * a reused Idempotency-Key. Each is a 422 (or 409) that reserves nothing, queues nothing and keeps
 * no uploaded image. And the links the API hands out never come from the request's Host header.
 */

let api: ApiHarness;
let key: string;
let keyId: string;

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-before-queueing',
    workers: true,
    env: { API_SYNC_WAIT_MS: '0', WEBHOOK_SECRET: 'secret' },
  });
  const created = await api.newKey({ credits: 100 });
  key = created.key;
  keyId = created.record.id;
}, 120_000);

afterAll(async () => {
  await api?.close();
});

async function png(width: number, height: number, colour = '#3060c0'): Promise<string> {
  const bytes = await sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer();
  return bytes.toString('base64');
}

/**
 * Credits, jobs of every state, and stored images: a refusal changes none of them. Read once the
 * worker is idle, so an earlier test's render does not add its images in between.
 */
async function traces(): Promise<{ credits: number; jobs: number; files: number }> {
  const generate = api.services.queues.generate;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const busy = await generate.getJobCounts('wait', 'prioritized', 'active', 'delayed');
    if (Object.values(busy).every((n) => n === 0) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const counts = await generate.getJobCounts();
  return {
    credits: (await api.services.credits.balance(keyMember(keyId))).total,
    jobs: Object.values(counts).reduce((a, b) => a + b, 0),
    // Files only: a shard folder stays behind when its last image is deleted.
    files: readdirSync(api.artifactsDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
      .length,
  };
}

async function refusedWithoutTrace(
  path: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: AnswerBody }> {
  const before = await traces();
  const answer = await api.post(path, body, headers);
  expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(answer.body.status).toBe('error');
  expect(await traces()).toEqual(before);
  return answer;
}

describe('bounded fields', () => {
  it('refuses a 15 MB track_id with 422 and does not echo it', async () => {
    const answer = await refusedWithoutTrace('/v1/text2img', {
      key,
      prompt: 'a red circle',
      track_id: 'x'.repeat(15 * 1024 * 1024),
    });
    expect(answer.status).toBe(422);
    expect(answer.body.message.track_id).toEqual([
      `The track_id field must be at most ${TEXT_MAX_CHARS.trackId} characters.`,
    ]);
    expect(JSON.stringify(answer.body).length).toBeLessThan(1000);
  });

  it.each([
    ['webhook', `https://hooks.example/${'a'.repeat(TEXT_MAX_CHARS.webhook)}`],
    ['model_id', 'm'.repeat(TEXT_MAX_CHARS.model + 1)],
    ['scheduler', 's'.repeat(TEXT_MAX_CHARS.scheduler + 1)],
    ['aspect_ratio', '1'.repeat(TEXT_MAX_CHARS.aspectRatio + 1)],
    ['negative_prompt', 'n'.repeat(2001)],
    ['width', '5'.repeat(TEXT_MAX_CHARS.number + 1)],
  ])('refuses an over-long %s with 422', async (field, value) => {
    const answer = await refusedWithoutTrace('/v1/text2img', { key, prompt: 'a red circle', [field]: value });
    expect(answer.status).toBe(422);
    expect(answer.body.message[field]?.[0]).toMatch(/at most \d+ characters/);
    expect(JSON.stringify(answer.body).length).toBeLessThan(2000);
  });

  it("refuses a string over 64 KB outside the route's image fields while reading it", async () => {
    const prompt = await refusedWithoutTrace('/v1/img2img', {
      key,
      prompt: 'p'.repeat(100_000),
      init_image: 'QUJD',
    });
    expect(prompt.status).toBe(422);
    expect(prompt.body.message).toEqual({ prompt: ['The prompt field must be at most 2000 characters.'] });
    // text2img takes no image: a long init_image is a long string like any other.
    const image = await refusedWithoutTrace('/v1/text2img', {
      key,
      prompt: 'x',
      init_image: 'A'.repeat(100_000),
    });
    expect(image.body.message).toEqual({
      init_image: ['The init_image field is too long: strings over 64 KB are refused.'],
    });
    const extra = await refusedWithoutTrace('/v1/inpaint', { key, prompt: 'x', notes: 'n'.repeat(100_000) });
    expect(extra.body.message).toEqual({
      notes: ['The notes field is too long: strings over 64 KB are refused outside init_image, mask_image.'],
    });
  });

  it('keeps a track_id at its maximum and echoes it', async () => {
    const trackId = 't'.repeat(TEXT_MAX_CHARS.trackId);
    const answer = await api.post('/v1/text2img', { key, prompt: 'a purple square', track_id: trackId });
    expect(answer.status).toBe(200);
    expect(answer.body.track_id).toBe(trackId);
  });

  it('refuses a prompt of zero-width and other invisible characters', async () => {
    for (const prompt of ['\u200b\u200c\u200d', '\u2060\ufeff \u00ad', '\u3164\u2800', '\u0301\u0302']) {
      const answer = await refusedWithoutTrace('/v1/text2img', { key, prompt });
      expect(answer.status).toBe(422);
      expect(answer.body.message.prompt[0]).toContain('no visible characters');
    }
  });
});

describe('sizes known from the images', () => {
  it('refuses a mask whose size differs from its image, keeping neither upload', async () => {
    const answer = await refusedWithoutTrace('/v1/inpaint', {
      key,
      prompt: 'a boat',
      init_image: await png(64, 64),
      mask_image: await png(32, 48, '#fff'),
    });
    expect(answer.status).toBe(422);
    expect(answer.body.message.mask_image).toEqual([
      'mask_image: the mask is 32x48 but the image is 64x64; they must be the same size.',
    ]);
  });

  it('refuses a super resolution whose output exceeds MAX_PIXELS', async () => {
    const answer = await refusedWithoutTrace('/v1/super_resolution', {
      key,
      init_image: await png(1024, 1024),
      scale: 4,
    });
    expect(answer.status).toBe(422);
    expect(answer.body.message.scale).toEqual([
      `scale: 4x of a 1024x1024 image is 4096x4096, over this server's limit of ${api.config.MAX_PIXELS} pixels.`,
    ]);
  });
});

describe('models', () => {
  it('refuses a listed model that no live worker has installed', async () => {
    const answer = await refusedWithoutTrace('/v1/text2img', {
      key,
      prompt: 'a red circle',
      model_id: 'tiny-missing',
    });
    expect(answer.status).toBe(422);
    expect(answer.body.message.model[0]).toBe(
      'model: tiny-missing is not installed on any render worker (they have tiny, tiny-broken); pick another model, ' +
        'or ask the operator to install it (easel models download)',
    );
  });

  it('counts only the workers of this deployment', async () => {
    const answer = await api.get('/v1/system_load');
    expect(answer.body.workers).toBe(1);
  });
});

describe('Idempotency-Key', () => {
  it('returns the first job for the same body, and 409 for a different one', async () => {
    const headers = { 'idempotency-key': 'order-1001' };
    const first = await api.post('/v1/text2img', { key, prompt: 'a green triangle', seed: 5 }, headers);
    expect(first.status).toBe(200);
    // The same fields in another order are the same request.
    const again = await api.post('/v1/text2img', { seed: 5, prompt: 'a green triangle', key }, headers);
    expect(again.body.id).toBe(first.body.id);

    const other = await refusedWithoutTrace(
      '/v1/text2img',
      { key, prompt: 'a blue square', seed: 5 },
      headers,
    );
    expect(other.status).toBe(409);
    expect(other.body.message).toBe('Idempotency-Key reused with a different request');
    expect(other.body.tips).toContain(first.body.id);
  });

  it('lets a refused request be corrected under the same key', async () => {
    const headers = { 'idempotency-key': 'order-1002' };
    const bad = await refusedWithoutTrace(
      '/v1/text2img',
      { key, prompt: 'a red circle', samples: 9 },
      headers,
    );
    expect(bad.status).toBe(422);
    const fixed = await api.post('/v1/text2img', { key, prompt: 'a white square', samples: 2 }, headers);
    expect(fixed.status).toBe(200);
    expect(fixed.body.status).toBe('processing');
  });

  it('refuses a key longer than it can keep', async () => {
    const answer = await refusedWithoutTrace(
      '/v1/text2img',
      { key, prompt: 'a red circle' },
      { 'idempotency-key': 'k'.repeat(TEXT_MAX_CHARS.idempotencyKey + 1) },
    );
    expect(answer.status).toBe(422);
    expect(answer.body.message['Idempotency-Key']).toHaveLength(1);
  });
});

describe('links', () => {
  it('builds them from the configuration, never from the Host header', async () => {
    const body = JSON.stringify({ key, prompt: 'a black circle' });
    const { port } = new URL(api.url);
    const answer = await new Promise<AnswerBody>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/text2img',
          method: 'POST',
          headers: {
            host: 'evil.example',
            'x-forwarded-host': 'evil.example',
            'x-forwarded-proto': 'https',
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve(JSON.parse(text)));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe('processing');
    expect(answer.fetch_result).toBe(`http://127.0.0.1:${port}/v1/fetch/${answer.id}`);
  });
});
