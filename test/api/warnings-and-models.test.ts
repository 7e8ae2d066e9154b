import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * A prompt the model cannot draw is accepted and rendered, and every answer about it (the sync
 * answer, `processing`, `fetch`) carries a `warnings` entry; `GET /v1/models` says what is
 * installed, what is the default and how to install the rest.
 */
let api: ApiHarness;
let key: string;

beforeAll(async () => {
  api = await startApiHarness({ name: 'api-warnings', workers: true, env: { API_SYNC_WAIT_MS: '60000' } });
  // The tiny model stands in for easel-mini: the same closed vocabulary, on the model the worker has.
  const tiny = api.services.registry.models.find((m) => m.id === 'tiny')!;
  tiny.vocabulary = { shapes: ['circle', 'square'], colours: ['red', 'blue'], example: 'a red circle' };
  key = (await api.newKey({ credits: 100 })).key;
}, 120_000);

afterAll(async () => {
  await api?.close();
});

describe('warnings in API answers', () => {
  it('renders a prompt with no word the model knows and says why it will look random', async () => {
    const res = await api.post('/v1/text2img', { key, prompt: 'a lighthouse on a cliff', seed: 3 });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('success');
    expect(res.body.warnings).toHaveLength(1);
    expect(res.body.warnings[0]).toContain('tiny knows no word of this prompt');
    expect(res.body.warnings[0]).toContain('circle, square');
    expect(res.body.warnings[0]).toContain('"a red circle"');

    const fetched = await api.post(`/v1/fetch/${res.body.id}`, { key });
    expect(fetched.body.warnings).toEqual(res.body.warnings);
  });

  it('has no warnings for a prompt with a word the model knows (plurals count)', async () => {
    const res = await api.post('/v1/text2img', { key, prompt: 'two red circles', seed: 3 });
    expect(res.body.status).toBe('success');
    expect(res.body.warnings).toBeUndefined();
  });
});

describe('GET /v1/models', () => {
  it('marks installed models, the default, the family, and how to install a missing one', async () => {
    const tinyMissing = api.services.registry.models.find((m) => m.id === 'tiny-missing')!;
    tinyMissing.install = 'easel models tiny';
    const res = await api.get('/v1/models');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(
      (res.body.models as { model_id: string }[]).map((m) => [m.model_id, m]),
    ) as Record<string, Record<string, unknown>>;
    expect(byId.tiny).toMatchObject({ installed: true, state: 'installed', default: true, family: 'sd1' });
    expect(byId.tiny).not.toHaveProperty('install');
    expect(byId['tiny-missing']).toMatchObject({
      installed: false,
      state: 'not installed',
      default: false,
      install: 'easel models tiny',
    });
  });
});
