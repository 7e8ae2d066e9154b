import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { readPngText } from '../../src/engine/png-text.ts';
import { writeTinyLora } from '../support/tiny-loras.ts';
import { type AnswerBody, type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * Each seed's own API, sent its documented example request (headers and body as printed in its
 * docs, the host swapped for this server), end to end: the real server, admission on the test Redis,
 * the real generate worker rendering the tiny model, which carries the hosted APIs' model ids as
 * aliases. Then each face's errors, in that face's own shape.
 */

let api: ApiHarness;
let key: string;
let keyId: string;

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-seed-faces',
    workers: true,
    tinyAliases: ['sd3-large', 'sd3-medium', 'sd3-large-turbo', 'sd2.1', 'stable-diffusion-v1-5'],
    env: { API_SYNC_WAIT_MS: '60000' },
  });
  const created = await api.newKey({ credits: 200 });
  key = created.key;
  keyId = created.record.id;
}, 120_000);

afterAll(async () => {
  await api?.close();
});

async function credits(id = keyId): Promise<number> {
  return (await api.services.credits.balance(keyMember(id))).total;
}

/**
 * A raw POST, for requests the harness would otherwise dress: bytes back, and no Content-Type unless
 * given (bytes, not a string, or fetch would add text/plain as Python's `requests` never does).
 */
async function send(path: string, body: string, headers: Record<string, string>) {
  const response = await fetch(`${api.url}${path}`, { method: 'POST', body: Buffer.from(body), headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    type,
    headers: response.headers,
    bytes,
    json: (type.includes('json') ? JSON.parse(bytes.toString('utf8')) : undefined) as AnswerBody,
  };
}

describe('modelslab (seeds 000 and 001)', () => {
  it('serves the v3 text2img example, nulls and "yes"/"no" strings included', async () => {
    const before = await credits();
    const answer = await api.post('/api/v3/text2img', {
      key,
      prompt: 'a red circle on a blue background',
      negative_prompt: null,
      width: '512',
      height: '512',
      samples: '1',
      num_inference_steps: '20',
      seed: null,
      guidance_scale: 7.5,
      safety_checker: 'yes',
      multi_lingual: 'no',
      panorama: 'no',
      self_attention: 'no',
      upscale: 'no',
      embeddings_model: null,
      webhook: null,
      track_id: null,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ status: 'success', id: expect.any(String) });
    expect(answer.body.output).toHaveLength(1);
    expect(answer.body.output[0]).toMatch(/\/v1\/images\/[\w-]+\.png$/);
    expect(answer.body.generationTime).toBeGreaterThan(0);
    expect(answer.body.meta).toMatchObject({
      width: 512,
      height: 512,
      num_inference_steps: 20,
      model_id: 'tiny',
    });
    // Hosted faces ignore fields they do not read; only easel's /v1 lists them.
    expect(answer.body.warnings).toBeUndefined();
    expect(await credits()).toBe(before - 1);

    const fetched = await api.post(`/api/v3/fetch/${answer.body.id}`, { key });
    expect(fetched.body).toMatchObject({ status: 'success', id: answer.body.id, output: answer.body.output });
    // The job's future link, once the render is done, is the same image as its output URL.
    const [byJob, byId] = await Promise.all(
      [`${api.url}/v1/jobs/${answer.body.id}/images/0.png`, answer.body.output[0]].map(async (url) =>
        Buffer.from(await (await fetch(url)).arrayBuffer()),
      ),
    );
    expect(byJob!.length).toBeGreaterThan(100);
    expect(byJob!.equals(byId!)).toBe(true);
    expect((await fetch(`${api.url}/v1/jobs/${answer.body.id}/images/1.png`)).status).toBe(404);
  });

  it('serves the v4 dreambooth example with its model_id, Karras flag and empty LoRA fields', async () => {
    const answer = await api.post('/api/v4/dreambooth', {
      key,
      model_id: 'stable-diffusion-v1-5',
      prompt: 'a yellow triangle',
      negative_prompt: 'blurry',
      width: '512',
      height: '512',
      samples: '1',
      num_inference_steps: '20',
      safety_checker: 'no',
      enhance_prompt: 'yes',
      seed: null,
      guidance_scale: 7.5,
      multi_lingual: 'no',
      panorama: 'no',
      self_attention: 'no',
      upscale: 'no',
      embeddings_model: null,
      lora_model: null,
      tomesd: 'yes',
      clip_skip: '1',
      use_karras_sigmas: 'yes',
      vae: null,
      lora_strength: null,
      scheduler: 'UniPCMultistepScheduler',
      webhook: null,
      track_id: null,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe('success');
    expect(answer.body.meta.model_id).toBe('tiny');
  });

  it('serves v6 images text2img and fetch', async () => {
    const answer = await api.post('/api/v6/images/text2img', {
      key,
      model_id: 'sd3-large',
      prompt: 'a green square',
      width: 512,
      height: 512,
      samples: 2,
      num_inference_steps: 4,
      guidance_scale: 7.5,
    });
    expect(answer.body.status, JSON.stringify(answer.body)).toBe('success');
    expect(answer.body.output).toHaveLength(2);
    const fetched = await api.post(`/api/v6/images/fetch/${answer.body.id}`, { key });
    expect(fetched.body.output).toEqual(answer.body.output);
  });

  it('answers seed 000’s error shapes: Invalid Api Key with tip, the prompt field, Model id not found', async () => {
    const before = await credits();
    const noKey = await api.post('/api/v3/text2img', { key: 'esk_wrong', prompt: 'a cat' });
    expect(noKey.status).toBe(401);
    expect(noKey.body).toEqual({ status: 'error', message: 'Invalid Api Key', tip: expect.any(String) });

    const noPrompt = await api.post('/api/v3/text2img', { key, width: 512 });
    expect(noPrompt.status).toBe(422);
    expect(noPrompt.body).toEqual({
      status: 'error',
      message: { prompt: ['The prompt field is required.'] },
    });

    const noModel = await api.post('/api/v4/dreambooth', { key, model_id: 'no-such-model', prompt: 'a cat' });
    expect(noModel.status).toBe(404);
    expect(noModel.body).toMatchObject({ status: 'error', message: 'Model id not found' });
    expect(await credits()).toBe(before);
  });

  it('renders with lora_model and lora_strength, echoes them in meta and records them in the PNG', async () => {
    writeTinyLora(api.config.MODELS_DIR, 'more_details');
    const before = await credits();
    const answer = await api.post('/api/v4/dreambooth', {
      key,
      model_id: 'stable-diffusion-v1-5',
      prompt: 'a red circle <lora:more_details:0.6>',
      width: 320,
      height: 320,
      samples: 1,
      num_inference_steps: 2,
    });
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('success');
    expect(answer.body.meta).toMatchObject({ prompt: 'a red circle', lora_model: 'more_details:0.6' });
    const png = Buffer.from(await (await fetch(answer.body.output[0])).arrayBuffer());
    const parameters = readPngText(png).parameters ?? '';
    expect(parameters.split('\n')[0]).toBe('a red circle <lora:more_details:0.6>');
    expect(parameters).toMatch(/, Lora hashes: "more_details: [0-9a-f]{12}", Version: easel$/);
    expect(await credits()).toBeLessThan(before);
  });

  it('refuses an unknown LoRA or embedding, a bad strength and clip skip at admission, charging nothing', async () => {
    const before = await credits();
    const unknown = await api.post('/api/v4/dreambooth', {
      key,
      prompt: 'a cat',
      lora_model: 'no_such_lora',
      lora_strength: '0.7',
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.message.lora[0]).toMatch(
      /^LoRA "no_such_lora" is not installed on this server \(installed: /,
    );

    const embedding = await api.post('/api/v4/dreambooth', {
      key,
      prompt: 'a cat',
      embeddings_model: 'easynegative',
    });
    expect(embedding.status).toBe(422);
    expect(embedding.body.message.embeddings[0]).toBe(
      'embedding "easynegative" is not installed on this server (none is installed)',
    );

    const strength = await api.post('/api/v4/dreambooth', {
      key,
      prompt: 'a cat',
      lora_model: 'a,b',
      lora_strength: '0.5,9',
    });
    expect(strength.status).toBe(422);
    expect(strength.body.message.lora_model[0]).toBe(
      'lora_model: the strength of LoRA "b" must be a number from -4 to 4 (got "9")',
    );

    const clipSkip = await api.post('/api/v4/dreambooth', { key, prompt: 'a cat', clip_skip: '13' });
    expect(clipSkip.status).toBe(422);
    expect(clipSkip.body.message.clip_skip[0]).toBe(
      'clip_skip: must be a whole number from 1 (the last layer) to 12 (got "13")',
    );
    expect(await credits()).toBe(before);
  });
});

describe('aithriving SD3 (seed 002)', () => {
  const example = (prompt: string) =>
    JSON.stringify({
      prompt,
      negative_prompt: 'blurry',
      width: 512,
      height: 512,
      model: 'sd3-large',
      aspect_ratio: '1:1',
      seed: 0,
    });

  it('serves its example, sent with a bare Authorization and no Content-Type, on both spellings', async () => {
    for (const path of ['/api/generate/sdv3/textToImage', '/api/generate/sd3/textToImage']) {
      const before = await credits();
      const answer = await send(path, example(`a lighthouse ${path}`), { authorization: key });
      expect(answer.status, answer.bytes.toString()).toBe(200);
      expect(answer.json).toMatchObject({ code: 0, message: 'success', data: { seed: expect.any(Number) } });
      const image = await sharp(Buffer.from(answer.json.data.image, 'base64')).metadata();
      expect([image.format, image.width, image.height]).toEqual(['png', 512, 512]);
      expect(await credits()).toBe(before - 1);
    }
  });

  it('answers code -1 for a wrong key, a bad field, and a failed render, charging none of them', async () => {
    const before = await credits();
    const wrong = await send('/api/generate/sd3/textToImage', example('a cat'), {
      authorization: 'esk_nope',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ code: -1, message: expect.stringMatching(/Invalid Api Key/) });

    const bad = await send('/api/generate/sd3/textToImage', JSON.stringify({ prompt: 'a cat', width: 333 }), {
      authorization: key,
    });
    expect(bad.json.code).toBe(-1);
    expect(bad.json.message).toMatch(/width/);

    const broken = await send(
      '/api/generate/sd3/textToImage',
      JSON.stringify({ prompt: 'a broken render', model: 'tiny-broken', width: 512, height: 512 }),
      { authorization: key },
    );
    expect(broken.status).toBe(200);
    expect(broken.json.code).toBe(-1);
    expect(broken.json.message).toMatch(/not charged/);
    expect(await credits()).toBe(before);
  });
});

describe('imagepipeline SD3 (seed 003)', () => {
  it('serves its example with the API-Key header: SUCCESS with download_urls, then the status endpoint', async () => {
    const answer = await send(
      '/sd3/v1',
      JSON.stringify({
        samples: 2,
        prompt: 'High end wildlife photography, a colourful toucan on a tree branch',
        negative_prompt: 'blurry, watermark',
        guidance_scale: 7,
        width: 1024,
        height: 1024,
        num_inference_steps: 29,
      }),
      { 'API-Key': key, 'Content-Type': 'application/json' },
    );
    expect(answer.status, answer.bytes.toString()).toBe(200);
    expect(answer.json).toMatchObject({ status: 'SUCCESS', id: expect.any(String) });
    expect(answer.json.download_urls).toHaveLength(2);
    const png = await fetch(answer.json.download_urls[0]);
    expect((await sharp(Buffer.from(await png.arrayBuffer())).metadata()).width).toBe(1024);

    const status = await api.get(`/sd3/v1/status/${answer.json.id}`, { 'API-Key': key });
    expect(status.body).toMatchObject({ status: 'SUCCESS', download_urls: answer.json.download_urls });
  });

  it('answers FAILURE naming the field for more than 4 samples or guidance over 20', async () => {
    const before = await credits();
    const answer = await api.post(
      '/sd3/v1',
      { prompt: 'a cat', samples: 5, guidance_scale: 25 },
      { 'API-Key': key },
    );
    expect(answer.status).toBe(422);
    expect(answer.body.status).toBe('FAILURE');
    expect(answer.body.error).toMatch(/samples/);
    expect(answer.body.error).toMatch(/guidance_scale/);
    const unknown = await api.get('/sd3/v1/status/gnosuchjob', { 'API-Key': key });
    expect(unknown.status).toBe(404);
    expect(unknown.body.status).toBe('FAILURE');
    expect(await credits()).toBe(before);
  });
});

describe('segmind SD 2.1 (seed 004)', () => {
  const example = {
    samples: 1,
    prompt: 'calico cat wearing a cosmonaut suit, 3d render, pixar style, 8k, high resolution',
    scheduler: 'DDIM',
    num_inference_steps: 25,
    guidance_scale: 7.5,
    strength: 1,
    seed: 17123564234,
    img_width: 512,
    img_height: 512,
    base64: false,
  };

  it('serves its example (strength 1 on text to image, an 11-digit seed): the answer is the image', async () => {
    const before = await credits();
    const answer = await send('/v1/sd2.1-txt2img', JSON.stringify(example), {
      'x-api-key': key,
      'Content-Type': 'application/json',
    });
    expect(answer.status, answer.bytes.toString()).toBe(200);
    expect(answer.type).toBe('image/jpeg');
    const image = await sharp(answer.bytes).metadata();
    expect([image.format, image.width, image.height]).toEqual(['jpeg', 512, 512]);
    expect(answer.headers.get('x-easel-seed')).toBe('17123564234');
    expect(await credits()).toBe(before - 1);
  });

  it('answers JSON with base64 when base64 is true', async () => {
    const answer = await send(
      '/v1/sd2.1-txt2img',
      JSON.stringify({ ...example, prompt: 'a calico cat in base64', base64: true }),
      {
        'x-api-key': key,
        'Content-Type': 'application/json',
      },
    );
    expect(answer.status).toBe(200);
    const image = await sharp(Buffer.from(answer.json.image, 'base64')).metadata();
    expect(image.format).toBe('jpeg');
  });

  it('renders samples up to 10 (more than a chat grid holds), charged per image; 11 is a 400', async () => {
    const before = await credits();
    const answer = await send(
      '/v1/sd2.1-txt2img',
      JSON.stringify({ ...example, prompt: 'six calico cats', samples: 6, base64: true }),
      { 'x-api-key': key, 'Content-Type': 'application/json' },
    );
    expect(answer.status, answer.bytes.toString()).toBe(200);
    const images: string[] = answer.json.images;
    expect(images).toHaveLength(6);
    expect(answer.json.image).toBe(images[0]);
    // Six seeds, six pictures: none is a copy of another.
    expect(new Set(images).size).toBe(6);
    expect(await credits()).toBe(before - 6);

    const tooMany = await api.post('/v1/sd2.1-txt2img', { ...example, samples: 11 }, { 'x-api-key': key });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatch(/samples: must be a whole number from 1 to 10/);
    expect(await credits()).toBe(before - 6);
  });

  it('answers with segmind’s status codes: 401, 400 for a bad field, 406 without credits', async () => {
    const wrong = await api.post('/v1/sd2.1-txt2img', example, { 'x-api-key': 'esk_nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: expect.stringMatching(/Invalid Api Key/) });

    const bad = await api.post(
      '/v1/sd2.1-txt2img',
      { ...example, scheduler: 'Nonsense' },
      { 'x-api-key': key },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/scheduler/);

    const poor = await api.newKey({ credits: 0 });
    const broke = await api.post('/v1/sd2.1-txt2img', example, { 'x-api-key': poor.key });
    expect(broke.status).toBe(406);
    expect(broke.body.error).toMatch(/credits/i);
  });
});

describe('the OpenAPI document', () => {
  it('lists every face’s routes, tagged with the face, each operation id once', async () => {
    const answer = await api.get('/v1/openapi.json');
    const paths = answer.body.paths as Record<string, Record<string, AnswerBody>>;
    for (const [path, method, tag] of [
      ['/v1/text2img', 'post', /easel/],
      ['/api/v3/text2img', 'post', /modelslab/],
      ['/api/v3/fetch/{id}', 'post', /modelslab/],
      ['/api/v3/system_load', 'post', /modelslab/],
      ['/api/v4/dreambooth', 'post', /modelslab/],
      ['/api/v6/images/text2img', 'post', /modelslab/],
      ['/api/generate/sdv3/textToImage', 'post', /aithriving/],
      ['/api/generate/sd3/textToImage', 'post', /aithriving/],
      ['/sd3/v1', 'post', /imagepipeline/],
      ['/sd3/v1/status/{id}', 'get', /imagepipeline/],
      ['/v1/sd2.1-txt2img', 'post', /segmind/],
    ] as const) {
      const operation = paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.tags[0], path).toMatch(tag);
    }
    const ids = Object.values(paths).flatMap((methods) => Object.values(methods).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
