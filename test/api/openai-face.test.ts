import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { computeCost, ratesFromConfig } from '../../src/credits/cost.ts';
import { readPngText } from '../../src/engine/png-text.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';
import { rawRequest } from './raw-http.ts';

/**
 * The OpenAI face end to end with OpenAI's own client (the `openai` npm package, version 6): its
 * requests, its parsing of the answers, its error classes. The real server, admission on the test
 * Redis, the real worker rendering the tiny model.
 */

let api: ApiHarness;
let key: string;
let keyId: string;
let client: OpenAI;

beforeAll(async () => {
  api = await startApiHarness({ name: 'openai', workers: true, env: { API_BODY_LIMIT_MB: '2' } });
  const created = await api.newKey({ credits: 200 });
  key = created.key;
  keyId = created.record.id;
  // No retries: a refusal must reach the test as the error class the client raises for it.
  client = new OpenAI({ apiKey: key, baseURL: `${api.url}/v1`, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await api?.close();
});

async function credits(id = keyId): Promise<number> {
  return (await api.services.credits.balance(keyMember(id))).total;
}

async function png(width: number, height: number, transparentLeftHalf = false): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 4, 180);
  if (transparentLeftHalf) {
    for (let y = 0; y < height; y++) for (let x = 0; x < width / 2; x++) pixels[(y * width + x) * 4 + 3] = 0;
  }
  return sharp(pixels, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

async function pngSize(bytes: Buffer): Promise<[number | undefined, number | undefined, string | undefined]> {
  const meta = await sharp(bytes).metadata();
  return [meta.width, meta.height, meta.format];
}

describe('images.generate', () => {
  it('answers URLs of PNGs with the revised prompt, and charges the images', async () => {
    const before = await credits();
    const started = Math.floor(Date.now() / 1000);
    const answer = await client.images.generate({
      model: 'dall-e-2',
      prompt: 'a red circle on a blue background',
      n: 2,
      size: '512x512',
      quality: 'standard',
      user: 'user-17',
    });
    expect(answer.created).toBeGreaterThanOrEqual(started);
    expect(answer.data).toHaveLength(2);
    for (const image of answer.data ?? []) {
      expect(image.revised_prompt).toBe('a red circle on a blue background');
      expect(image.b64_json).toBeUndefined();
      expect(image.url).toMatch(new RegExp(`^${api.url}/v1/images/[A-Za-z0-9_-]{22}\\.png$`));
      const response = await fetch(image.url!);
      expect(response.status).toBe(200);
      expect(await pngSize(Buffer.from(await response.arrayBuffer()))).toEqual([512, 512, 'png']);
    }
    const cost = computeCost(
      {
        mode: 'txt2img',
        width: 512,
        height: 512,
        steps: api.services.registry.models[0]!.defaults.steps,
        count: 2,
      },
      ratesFromConfig(api.config),
    );
    expect(await credits()).toBe(before - cost);
  });

  it('answers base64 PNGs with response_format b64_json, at the size asked', async () => {
    const answer = await client.images.generate({
      model: 'gpt-image-1',
      prompt: 'a green square',
      size: '768x512' as '1024x1024',
      response_format: 'b64_json',
    });
    expect(answer.data).toHaveLength(1);
    const image = answer.data![0]!;
    expect(image.url).toBeUndefined();
    expect(await pngSize(Buffer.from(image.b64_json!, 'base64'))).toEqual([768, 512, 'png']);
    expect(answer.size).toBe('768x512');
  });
});

describe('images.edit and images.createVariation', () => {
  it("repaints the image's transparent part when no mask is sent", async () => {
    const answer = await client.images.edit({
      image: await toFile(await png(512, 512, true), 'image.png', { type: 'image/png' }),
      prompt: 'a yellow sun',
      response_format: 'b64_json',
    });
    expect(answer.data).toHaveLength(1);
    const bytes = Buffer.from(answer.data![0]!.b64_json!, 'base64');
    expect(await pngSize(bytes)).toEqual([512, 512, 'png']);
    // The render's own parameters say what it did.
    expect(readPngText(bytes).parameters).toContain('Mode: inpaint');
  });

  it('redraws an image with nothing transparent and no mask whole (image to image)', async () => {
    const answer = await client.images.edit({
      image: await toFile(await png(512, 512), 'image.png', { type: 'image/png' }),
      prompt: 'a yellow sun, redrawn',
      response_format: 'b64_json',
    });
    expect(readPngText(Buffer.from(answer.data![0]!.b64_json!, 'base64')).parameters).toContain(
      'Mode: img2img',
    );
  });

  it('repaints where the mask is transparent, n images at a time', async () => {
    const answer = await client.images.edit({
      image: await toFile(await png(512, 512), 'image.png', { type: 'image/png' }),
      mask: await toFile(await png(512, 512, true), 'mask.png', { type: 'image/png' }),
      prompt: 'a blue moon',
      n: 2,
      size: '512x512',
    });
    expect(answer.data).toHaveLength(2);
    expect(answer.data![0]!.url).toMatch(/\/v1\/images\/.+\.png$/);
  });

  it('refuses a mask of another size, or one with nothing transparent, naming the mask; charges nothing', async () => {
    const before = await credits();
    for (const mask of [await png(256, 256, true), await png(512, 512)]) {
      const error = await client.images
        .edit({
          image: await toFile(await png(512, 512), 'image.png', { type: 'image/png' }),
          mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
          prompt: 'a blue moon',
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('mask');
    }
    expect(await credits()).toBe(before);
  });

  it('makes variations of an image, without a prompt', async () => {
    const answer = await client.images.createVariation({
      image: await toFile(await png(512, 512), 'image.png', { type: 'image/png' }),
      n: 1,
      response_format: 'b64_json',
    });
    expect(answer.data).toHaveLength(1);
    const bytes = Buffer.from(answer.data![0]!.b64_json!, 'base64');
    expect(await pngSize(bytes)).toEqual([512, 512, 'png']);
    expect(readPngText(bytes).parameters).toContain('Mode: variation');
  });
});

describe("refusals as the client's error classes", () => {
  it('raises AuthenticationError (401, invalid_api_key) for a wrong key', async () => {
    const wrong = new OpenAI({ apiKey: 'esk_wrong', baseURL: `${api.url}/v1`, maxRetries: 0 });
    const error = await wrong.images.generate({ prompt: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    const e = error as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(401);
    expect(e.code).toBe('invalid_api_key');
    expect(e.type).toBe('invalid_request_error');
  });

  it('raises BadRequestError naming the field for a bad size, n or response_format; charges nothing', async () => {
    const before = await credits();
    const cases: [Record<string, unknown>, string][] = [
      [{ size: 'huge' }, 'size'],
      [{ size: '100x100' }, 'size'],
      [{ n: 11 }, 'n'],
      [{ n: 0 }, 'n'],
      [{ response_format: 'jpeg' }, 'response_format'],
      [{ prompt: '' }, 'prompt'],
    ];
    for (const [fields, param] of cases) {
      const error = await client.images
        .generate({ prompt: 'a lighthouse', ...fields } as OpenAI.ImageGenerateParams)
        .catch((e: unknown) => e);
      expect(error, JSON.stringify(fields)).toBeInstanceOf(OpenAI.BadRequestError);
      const e = error as InstanceType<typeof OpenAI.APIError>;
      expect(e.param, JSON.stringify(fields)).toBe(param);
      expect(e.type).toBe('invalid_request_error');
    }
    expect(await credits()).toBe(before);
  });

  it('raises NotFoundError (model_not_found) for an unknown model', async () => {
    const error = await client.images
      .generate({ prompt: 'x', model: 'no-such-model' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_found');
  });

  it('raises RateLimitError with insufficient_quota when the credits run out', async () => {
    const poor = await api.newKey({ credits: 0 });
    const poorClient = new OpenAI({ apiKey: poor.key, baseURL: `${api.url}/v1`, maxRetries: 0 });
    const error = await poorClient.images.generate({ prompt: 'a lighthouse' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('insufficient_quota');
  });

  it("raises RateLimitError with Retry-After past the key's own rate", async () => {
    const limited = await api.newKey({ credits: 100, rate: { limit: 1, windowS: 60 } });
    const limitedClient = new OpenAI({ apiKey: limited.key, baseURL: `${api.url}/v1`, maxRetries: 0 });
    await limitedClient.images.generate({ prompt: 'one lighthouse', response_format: 'b64_json' });
    const error = await limitedClient.images.generate({ prompt: 'two lighthouses' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const e = error as InstanceType<typeof OpenAI.APIError>;
    expect(e.code).toBe('rate_limit_exceeded');
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe("OpenAI's routes beside easel's own images", () => {
  it('serves GET /v1/images/<id>.png and never takes an OpenAI path for an image, or the reverse', async () => {
    const made = await client.images.generate({ prompt: 'a purple triangle' });
    const file = made.data![0]!.url!.split('/').at(-1)!;
    expect((await fetch(`${api.url}/v1/images/${file}`)).status).toBe(200);
    // POST to an image is not an OpenAI call; GET of an OpenAI path is no image.
    const post = await api.post(`/v1/images/${file}`, { prompt: 'x' }, { authorization: `Bearer ${key}` });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toContain('GET');
    for (const path of ['generations', 'edits', 'variations']) {
      const get = await api.get(`/v1/images/${path}`);
      expect(get.status, path).toBe(404);
      expect(get.body).toMatchObject({ status: 'error', message: 'Image not found' });
    }
  });

  it('refuses a multipart body without a key before reading it, and multipart on JSON routes with 415', async () => {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(await png(64, 64))], { type: 'image/png' }), 'image.png');
    form.append('prompt', 'x');
    const keyless = await fetch(`${api.url}/v1/images/edits`, { method: 'POST', body: form });
    expect(keyless.status).toBe(401);
    expect(((await keyless.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');

    const onJsonRoute = await fetch(`${api.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: form,
    });
    expect(onJsonRoute.status).toBe(415);
    expect(((await onJsonRoute.json()) as { error: { type: string } }).error.type).toBe(
      'invalid_request_error',
    );
    const onEasel = await fetch(`${api.url}/v1/text2img`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: form,
    });
    expect(onEasel.status).toBe(415);
    expect(await onEasel.json()).toMatchObject({ status: 'error', message: 'Unsupported content type' });
  });

  it('answers an upload without a key, or with a wrong one, 401 before reading it', async () => {
    for (const headers of [{}, { authorization: 'Bearer esk_nope' }] as Record<string, string>[]) {
      const answer = await rawRequest(api.url, {
        path: '/v1/images/edits',
        headers: {
          'content-type': 'multipart/form-data; boundary=x',
          'content-length': String(10 * 1024 * 1024),
          ...headers,
        },
      });
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('invalid_api_key');
      expect(answer.headers.connection).toBe('close');
    }
  });

  it('refuses an upload over API_BODY_LIMIT_MB while reading it, charging nothing', async () => {
    const before = await credits();
    const noise = await sharp(randomBytes(1024 * 1024 * 3), {
      raw: { width: 1024, height: 1024, channels: 3 },
    })
      .png()
      .toBuffer();
    expect(noise.length).toBeGreaterThan(2 * 1024 * 1024);
    const error = await client.images
      .createVariation({ image: await toFile(noise, 'big.png', { type: 'image/png' }) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((error as InstanceType<typeof OpenAI.APIError>).type).toBe('invalid_request_error');
    expect(await credits()).toBe(before);
  });
});

describe('the OpenAPI document', () => {
  it('lists the OpenAI routes under their face, edits and variations as multipart', async () => {
    const doc = (await api.get('/v1/openapi.json')).body;
    const generations = doc.paths['/v1/images/generations'].post;
    expect(generations.tags).toEqual(['OpenAI Images API (/v1/images)']);
    expect(Object.keys(generations.requestBody.content)).toEqual(['application/json']);
    for (const path of ['/v1/images/edits', '/v1/images/variations']) {
      const op = doc.paths[path].post;
      expect(Object.keys(op.requestBody.content), path).toEqual(['multipart/form-data']);
      expect(op.requestBody.content['multipart/form-data'].schema.properties.image.format).toBe('binary');
    }
    expect(doc.paths['/sdapi/v1/txt2img'].post.tags).toEqual(['AUTOMATIC1111 web UI API (/sdapi/v1)']);
    for (const path of [
      'options',
      'sd-models',
      'samplers',
      'schedulers',
      'progress',
      'png-info',
      'interrupt',
    ]) {
      expect(doc.paths[`/sdapi/v1/${path}`], path).toBeDefined();
    }
    // Every operation id is unique across faces.
    const ids = Object.values(doc.paths).flatMap((ops) =>
      Object.values(ops as Record<string, { operationId: string }>).map((o) => o.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });
});
