import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ApiError, invalidKey, modelNotFound } from '../../src/api/api-error.ts';
import { transparentAsMask } from '../../src/api/faces/face-masks.ts';
import { openAiError } from '../../src/api/faces/openai/openai-errors.ts';
import { fromOpenAiBody, isOpenAiModel, openAiAnswer } from '../../src/api/faces/openai/openai-request.ts';
import { loadRegistry } from '../../src/models/registry.ts';
import { type ValidationContext, validateRequest } from '../../src/request/validate-request.ts';

/** OpenAI's Images API bodies, answers and errors, without a server. */

const ctx: ValidationContext = { registry: loadRegistry(), defaultModel: 'sd-1.5', randomSeed: () => 5 };

describe('OpenAI request bodies', () => {
  it('reads prompt, n and size; an OpenAI model name means the default model', () => {
    const generation = fromOpenAiBody(
      {
        prompt: 'a lighthouse',
        model: 'dall-e-3',
        n: 2,
        size: '768x512',
        response_format: 'b64_json',
        quality: 'hd',
        style: 'natural',
        user: 'u-1',
      },
      'txt2img',
    );
    expect(generation.responseFormat).toBe('b64_json');
    const result = validateRequest(generation.raw, ctx);
    expect(result.ok && result.request).toMatchObject({
      mode: 'txt2img',
      prompt: 'a lighthouse',
      model: 'sd-1.5',
      width: 768,
      height: 512,
      count: 2,
    });
  });

  it('defaults to URLs and the model size; "auto" is no size; an easel model id is used as given', () => {
    const generation = fromOpenAiBody({ prompt: 'x', size: 'auto', model: 'sd15' }, 'txt2img');
    expect(generation.responseFormat).toBe('url');
    const result = validateRequest(generation.raw, ctx);
    expect(result.ok && result.request).toMatchObject({ width: 512, height: 512, model: 'sd-1.5' });
    expect(['dall-e-2', 'dall-e-3', 'gpt-image-1', 'gpt-image-1-mini'].every(isOpenAiModel)).toBe(true);
    expect(isOpenAiModel('sd15')).toBe(false);
  });

  it("refuses values outside OpenAI's enums and sizes that are not WxH, in OpenAI's words", () => {
    const generation = fromOpenAiBody(
      { prompt: 'x', response_format: 'jpeg', size: 'large', quality: 'ultra', style: 'bold' },
      'txt2img',
    );
    const result = validateRequest(generation.raw, ctx);
    expect(!result.ok && result.errors.map((e) => e.field)).toEqual([
      'size',
      'response_format',
      'quality',
      'style',
    ]);
    expect(!result.ok && result.errors[1]?.message).toBe(
      "'jpeg' is not one of ['url', 'b64_json'] - 'response_format'",
    );
  });

  it('names n and size in the validator’s messages', () => {
    const result = validateRequest(
      fromOpenAiBody({ prompt: 'x', n: 10, size: '100x100' }, 'txt2img').raw,
      ctx,
    );
    const fields = !result.ok ? result.errors.map((e) => e.field).sort() : [];
    expect(fields).toEqual(expect.arrayContaining(['n', 'size']));
  });

  it('takes a variation without a prompt, as OpenAI sends it', () => {
    const raw = fromOpenAiBody({ n: '2', size: '512x512' }, 'variation').raw;
    raw.initImage = { artifactId: 'pending' };
    const result = validateRequest(raw, ctx);
    expect(result.ok && result.request).toMatchObject({ mode: 'variation', prompt: '', count: 2 });
  });

  it('answers created in seconds and one data entry per image with its revised_prompt', () => {
    expect(
      openAiAnswer(1_700_000_000_999, [{ url: 'u1' }, { b64_json: 'b2' }], 'p', { width: 64, height: 32 }),
    ).toEqual({
      created: 1_700_000_000,
      data: [
        { url: 'u1', revised_prompt: 'p' },
        { b64_json: 'b2', revised_prompt: 'p' },
      ],
      output_format: 'png',
      size: '64x32',
    });
  });
});

describe('OpenAI errors', () => {
  it('answers a wrong key with 401 invalid_api_key', () => {
    expect(openAiError(invalidKey())).toMatchObject({
      statusCode: 401,
      body: { error: { type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
    });
  });

  it('answers bad fields with 400 naming the first in param and all in the message', () => {
    const answer = openAiError(
      ApiError.validation([
        { field: 'size', message: 'size: bad' },
        { field: 'n', message: 'n: bad' },
      ]),
    );
    expect(answer).toEqual({
      statusCode: 400,
      headers: {},
      body: {
        error: { message: 'size: bad; n: bad', type: 'invalid_request_error', param: 'size', code: null },
      },
    });
  });

  it('answers no credits as 429 insufficient_quota and a rate limit as 429 with Retry-After', () => {
    expect(openAiError(ApiError.of(402, 'Not enough credits', 'Top up.'))).toMatchObject({
      statusCode: 429,
      body: { error: { type: 'insufficient_quota', code: 'insufficient_quota' } },
    });
    expect(openAiError(ApiError.rateLimited(4, 'Slow down.'))).toMatchObject({
      statusCode: 429,
      headers: { 'retry-after': '4' },
      body: { error: { type: 'requests', code: 'rate_limit_exceeded' } },
    });
  });

  it('answers an unknown model with 404 model_not_found, and server trouble as server_error', () => {
    expect(openAiError(modelNotFound('nope'))).toMatchObject({
      statusCode: 404,
      body: { error: { param: 'model', code: 'model_not_found' } },
    });
    expect(openAiError(ApiError.of(503, 'Service unavailable'))).toMatchObject({
      statusCode: 503,
      body: { error: { type: 'server_error' } },
    });
  });
});

describe("OpenAI's mask convention", () => {
  it('marks fully transparent pixels as the part to edit, and nothing when none is transparent', async () => {
    // 8x8 RGBA, the left half fully transparent.
    const pixels = Buffer.alloc(8 * 8 * 4, 200);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 4; x++) pixels[(y * 8 + x) * 4 + 3] = 0;
    const hole = await sharp(pixels, { raw: { width: 8, height: 8, channels: 4 } })
      .png()
      .toBuffer();
    const mask = await transparentAsMask(hole, 1_000_000);
    expect(mask).toBeDefined();
    const { data } = await sharp(mask!).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([data[0], data[7]]).toEqual([255, 0]);
    const opaque = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#fff' } })
      .png()
      .toBuffer();
    expect(await transparentAsMask(opaque, 1_000_000)).toBeUndefined();
    await expect(transparentAsMask(hole, 32)).rejects.toThrow();
  });
});
