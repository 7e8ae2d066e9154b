import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/** The REST API rendering a model of another family than SD 1: the tiny SDXL folder as `tiny`. */
let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-sdxl',
    workers: true,
    family: 'sdxl',
    env: { API_SYNC_WAIT_MS: '60000' },
  });
}, 120_000);

afterAll(async () => {
  await api?.close();
});

describe('text2img on an SDXL model', () => {
  it('renders with no negative prompt (zero negative conditioning) and serves the PNG', async () => {
    const { key } = await api.newKey({ credits: 100 });
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'a red circle on a blue background',
      width: 512,
      height: 384,
      samples: 1,
      num_inference_steps: 3,
      seed: 31,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe('success');
    const response = await fetch(answer.body.output[0] as string);
    expect(response.status).toBe(200);
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 512, 384]);
  });
});
