import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { computeCost, ratesFromConfig } from '../../src/credits/cost.ts';
import { type AnswerBody, type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * Every generation endpoint end to end over real HTTP: the real server, admission on the test
 * Redis, the real generate worker rendering the tiny model, the images served back by URL.
 */

let api: ApiHarness;
let key: string;
let keyId: string;
let imageServer: http.Server;
let imageBase: string;

async function picture(width: number, height: number, colour = '#3060c0'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

async function mask(width: number, height: number, border: number): Promise<Buffer> {
  // Black (kept) in the middle, white (repainted) around it: outpainting a centred image.
  const inner = await sharp({
    create: { width: width - 2 * border, height: height - 2 * border, channels: 3, background: '#000' },
  })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: '#fff' } })
    .composite([{ input: inner, left: border, top: border }])
    .png()
    .toBuffer();
}

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-flow',
    workers: true,
    env: { API_SYNC_WAIT_MS: '60000', API_ALLOW_PRIVATE_FETCH: 'true' },
  });
  const created = await api.newKey({ credits: 100 });
  key = created.key;
  keyId = created.record.id;
  const photo = await picture(96, 64, '#c04040');
  imageServer = http.createServer((req, res) => {
    if (req.url === '/photo.png') res.writeHead(200, { 'content-type': 'image/png' }).end(photo);
    else res.writeHead(404).end();
  });
  imageServer.listen(0, '127.0.0.1');
  await once(imageServer, 'listening');
  imageBase = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  imageServer?.close();
  await api?.close();
});

async function credits(): Promise<number> {
  return (await api.services.credits.balance(keyMember(keyId))).total;
}

async function download(url: string): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const response = await fetch(url);
  return {
    status: response.status,
    bytes: Buffer.from(await response.arrayBuffer()),
    type: response.headers.get('content-type'),
  };
}

function expectSuccess(answer: { status: number; body: AnswerBody }, images = 1): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.status, JSON.stringify(answer.body)).toBe('success');
  expect(answer.body.output).toHaveLength(images);
}

describe('text2img', () => {
  it('renders within the sync wait and answers success with image URLs, seeds, time and meta', async () => {
    const before = await credits();
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'a red circle on a blue background',
      negative_prompt: 'blurry',
      width: '512',
      height: 384,
      samples: 2,
      num_inference_steps: 3,
      guidance_scale: 4,
      seed: 1234,
      scheduler: 'EulerAncestralDiscreteScheduler',
      track_id: 'order-17',
    });
    expectSuccess(answer, 2);
    const body = answer.body;
    expect(body.id).toEqual(expect.any(String));
    expect(body.seed).toBe(1234);
    expect(body.seeds).toHaveLength(2);
    expect(body.generationTime).toBeGreaterThan(0);
    expect(body.track_id).toBe('order-17');
    expect(body.meta).toMatchObject({
      prompt: 'a red circle on a blue background',
      negative_prompt: 'blurry',
      width: 512,
      height: 384,
      samples: 2,
      num_inference_steps: 3,
      guidance_scale: 4,
      // A diffusers class named exactly runs as given, and is echoed as the client sent it.
      scheduler: 'EulerAncestralDiscreteScheduler',
      model_id: 'tiny',
    });
    for (const url of body.output as string[]) {
      expect(url).toMatch(new RegExp(`^${api.url}/v1/images/[A-Za-z0-9_-]{22}\\.png$`));
      const image = await download(url);
      expect(image.status).toBe(200);
      expect(image.type).toBe('image/png');
      const meta = await sharp(image.bytes).metadata();
      expect([meta.width, meta.height]).toEqual([512, 384]);
    }
    const cost = computeCost(
      { mode: 'txt2img', width: 512, height: 384, steps: 3, count: 2 },
      ratesFromConfig(api.config),
    );
    expect(await credits()).toBe(before - cost);
  });

  it('answers base64 PNGs instead of URLs when asked', async () => {
    const answer = await api.post(
      '/v1/text2img',
      { prompt: 'a green square', base64: true, seed: 5 },
      { 'x-api-key': key },
    );
    expectSuccess(answer);
    const bytes = Buffer.from(answer.body.output[0], 'base64');
    expect((await sharp(bytes).metadata()).format).toBe('png');
  });

  it('gives the same pixels for the same seed and parameters', async () => {
    const body = { key, prompt: 'a yellow triangle', seed: 99, num_inference_steps: 2, base64: true };
    const first = await api.post('/v1/text2img', body);
    const second = await api.post('/v1/text2img', body, { 'idempotency-key': 'second-run' });
    // The duplicate filter refuses an identical request within its window; a new key avoids it.
    const other = await api.newKey();
    const third = await api.post('/v1/text2img', { ...body, key: other.key });
    expectSuccess(first);
    expect(second.status).toBe(429);
    expectSuccess(third);
    const pixels = async (b64: string) => sharp(Buffer.from(b64, 'base64')).raw().toBuffer();
    expect((await pixels(first.body.output[0])).equals(await pixels(third.body.output[0]))).toBe(true);
  });
});

describe('img2img, inpaint, outpaint and super resolution', () => {
  it('img2img from a base64 image', async () => {
    const init = (await picture(512, 512)).toString('base64');
    const answer = await api.post('/v1/img2img', {
      key,
      prompt: 'make it red',
      init_image: init,
      strength: 0.6,
    });
    expectSuccess(answer);
    expect(answer.body.meta.strength).toBe(0.6);
  });

  it('img2img from an image URL', async () => {
    const answer = await api.post('/v1/img2img', {
      key,
      prompt: 'a painting',
      init_image: `${imageBase}/photo.png`,
    });
    expectSuccess(answer);
  });

  it('refuses an image URL that answers 404, charging nothing', async () => {
    const before = await credits();
    const answer = await api.post('/v1/img2img', {
      key,
      prompt: 'x',
      init_image: `${imageBase}/missing.png`,
    });
    expect(answer.status).toBe(422);
    expect(answer.body.message.init_image[0]).toContain('HTTP 404');
    expect(await credits()).toBe(before);
  });

  it('inpaints the white part of a mask', async () => {
    const answer = await api.post('/v1/inpaint', {
      key,
      prompt: 'a blue sky',
      init_image: `data:image/png;base64,${(await picture(512, 512)).toString('base64')}`,
      mask_image: (await mask(512, 512, 128)).toString('base64'),
    });
    expectSuccess(answer);
  });

  it('outpaints: an image on a larger canvas, the border masked', async () => {
    const canvas = await sharp({ create: { width: 768, height: 512, channels: 3, background: '#808080' } })
      .composite([{ input: await picture(512, 384, '#20a020'), left: 128, top: 64 }])
      .png()
      .toBuffer();
    const answer = await api.post('/v1/inpaint', {
      key,
      prompt: 'a wide meadow',
      width: 768,
      height: 512,
      init_image: canvas.toString('base64'),
      mask_image: (await mask(768, 512, 64)).toString('base64'),
    });
    expectSuccess(answer);
    const image = await download(answer.body.output[0]);
    const meta = await sharp(image.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([768, 512]);
  });

  it('upscales 2x and 4x', async () => {
    const source = (await picture(96, 64)).toString('base64');
    const before = await credits();
    const twice = await api.post('/v1/super_resolution', { key, url: source, scale: 2 });
    expectSuccess(twice);
    const four = await api.post('/v1/super_resolution', { key, init_image: source, scale: '4' });
    expectSuccess(four);
    for (const [answer, factor] of [
      [twice, 2],
      [four, 4],
    ] as const) {
      const image = await download(answer.body.output[0]);
      const meta = await sharp(image.bytes).metadata();
      expect([meta.width, meta.height]).toEqual([96 * factor, 64 * factor]);
      expect(answer.body.meta.scale).toBe(factor);
    }
    expect(await credits()).toBe(before - 1 - 2);
  });

  it('refuses a scale other than 2 or 4, and a missing image', async () => {
    const bad = await api.post('/v1/super_resolution', {
      key,
      url: (await picture(96, 64)).toString('base64'),
      scale: 3,
    });
    expect(bad.status).toBe(422);
    expect(bad.body.message.scale[0]).toContain('2 or 4');
    const missing = await api.post('/v1/super_resolution', { key, scale: 2 });
    expect(missing.status).toBe(422);
    expect(missing.body.message.url).toEqual(['The url field is required.']);
  });
});

describe('failures', () => {
  it('answers failed for a job the worker cannot render, and refunds it', async () => {
    const before = await credits();
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'never rendered',
      model_id: 'tiny-broken',
    });
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('failed');
    expect(answer.body.id).toEqual(expect.any(String));
    expect(answer.body.message).toContain('It was not charged.');
    expect(await credits()).toBe(before);
    const fetched = await api.post(`/v1/fetch/${answer.body.id}`, { key });
    expect(fetched.body.status).toBe('failed');
  });
});

describe('system load and the OpenAPI document', () => {
  it('reports queue depth, workers, average time and ETA', async () => {
    const answer = await api.get('/v1/system_load');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'success', queue_num: expect.any(Number) });
    expect(answer.body.workers).toBeGreaterThanOrEqual(1);
    expect(answer.body.avg_time).toBeGreaterThan(0);
    expect(answer.body.eta).toEqual(expect.any(Number));
  });

  it('serves an OpenAPI 3.1 document describing every endpoint', async () => {
    const answer = await api.get('/v1/openapi.json');
    expect(answer.status).toBe(200);
    expect(answer.body.openapi).toBe('3.1.0');
    const paths = answer.body.paths as Record<string, Record<string, AnswerBody>>;
    for (const [path, method] of [
      ['/v1/text2img', 'post'],
      ['/v1/img2img', 'post'],
      ['/v1/inpaint', 'post'],
      ['/v1/super_resolution', 'post'],
      ['/v1/fetch/{id}', 'post'],
      ['/v1/jobs/{id}', 'get'],
      ['/v1/system_load', 'get'],
      ['/v1/images/{file}', 'get'],
    ]) {
      expect(paths[path!]?.[method!], `${method} ${path}`).toBeDefined();
    }
    const text2img = paths['/v1/text2img']!.post;
    expect(text2img.requestBody.content['application/json'].schema.required).toEqual(['prompt']);
    expect(Object.keys(text2img.responses)).toEqual(
      expect.arrayContaining(['200', '401', '402', '404', '413', '415', '422', '429']),
    );
  });
});
