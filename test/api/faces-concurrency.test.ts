import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * All faces share one admission and one credits ledger: 200 requests at once through every face, on
 * one key holding 50 credits (one credit an image), give exactly 50 images and spend exactly 50
 * credits; every other request is refused in its face's shape and charged nothing.
 */

let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-faces-burst',
    workers: true,
    tinyAliases: ['sd3-large'],
    env: { API_SYNC_WAIT_MS: '120000' },
  });
}, 120_000);

afterAll(async () => {
  await api?.close();
});

interface Sent {
  face: string;
  run(): Promise<{ status: number; images: number; refusedInShape: boolean }>;
}

/** One request of `face` for prompt `n`, and how to read its answer. */
function request(face: string, n: number, key: string): Sent {
  const prompt = `a red circle on a blue background number ${n}`;
  const size = { width: 512, height: 512 };
  const json = async (path: string, body: unknown, headers: Record<string, string> = {}) =>
    api.post(path, body, headers);
  switch (face) {
    case 'easel':
      return {
        face,
        run: async () => {
          const a = await json('/v1/text2img', { key, prompt, ...size });
          return {
            status: a.status,
            images: a.body.output?.length ?? 0,
            refusedInShape: a.body.status === 'error',
          };
        },
      };
    case 'modelslab':
      return {
        face,
        run: async () => {
          const a = await json(`/api/${['v3/text2img', 'v4/dreambooth', 'v6/images/text2img'][n % 3]}`, {
            key,
            prompt,
            ...size,
            seed: null,
          });
          return {
            status: a.status,
            images: a.body.output?.length ?? 0,
            refusedInShape: a.body.status === 'error',
          };
        },
      };
    case 'aithriving':
      return {
        face,
        run: async () => {
          const a = await json('/api/generate/sd3/textToImage', { prompt, ...size }, { authorization: key });
          return { status: a.status, images: a.body.code === 0 ? 1 : 0, refusedInShape: a.body.code === -1 };
        },
      };
    case 'a1111':
      return {
        face,
        run: async () => {
          const basic = `Basic ${Buffer.from(`webui:${key}`).toString('base64')}`;
          const a = await json('/sdapi/v1/txt2img', { prompt, ...size, seed: -1 }, { authorization: basic });
          return {
            status: a.status,
            images: a.body.images?.length ?? 0,
            refusedInShape: a.body.error === 'HTTPException' && typeof a.body.detail === 'string',
          };
        },
      };
    case 'openai':
      return {
        face,
        run: async () => {
          const a = await json(
            '/v1/images/generations',
            { prompt, size: '512x512', response_format: 'b64_json' },
            { authorization: `Bearer ${key}` },
          );
          return {
            status: a.status,
            images: a.body.data?.length ?? 0,
            refusedInShape: a.body.error?.code === 'insufficient_quota',
          };
        },
      };
    case 'imagepipeline':
      return {
        face,
        run: async () => {
          const a = await json('/sd3/v1', { prompt, samples: 1, ...size }, { 'API-Key': key });
          return {
            status: a.status,
            images: a.body.download_urls?.length ?? 0,
            refusedInShape: a.body.status === 'FAILURE',
          };
        },
      };
    default:
      return {
        face,
        run: async () => {
          const a = await json(
            '/v1/sd2.1-txt2img',
            { prompt, img_width: 512, img_height: 512, base64: true },
            { 'x-api-key': key },
          );
          return {
            status: a.status,
            images: typeof a.body.image === 'string' ? 1 : 0,
            refusedInShape: typeof a.body.error === 'string',
          };
        },
      };
  }
}

describe('200 concurrent requests through every face on one key', () => {
  it('charges exactly the 50 images its 50 credits pay for', async () => {
    const created = await api.newKey({ credits: 50 });
    const faces = ['easel', 'modelslab', 'aithriving', 'imagepipeline', 'segmind', 'a1111', 'openai'];
    const sent = Array.from({ length: 200 }, (_, n) => request(faces[n % faces.length]!, n, created.key));
    const results = await Promise.all(sent.map((s) => s.run()));

    const images = results.reduce((sum, r) => sum + r.images, 0);
    expect(images).toBe(50);
    const refused = results.filter((r) => r.images === 0);
    expect(refused).toHaveLength(150);
    for (const r of refused) {
      // 402 is easel's and the hosted APIs' "not enough credits"; segmind says 406, OpenAI 429.
      expect([402, 406, 429]).toContain(r.status);
      expect(r.refusedInShape).toBe(true);
    }
    // Every face got some of the 50.
    for (const face of faces) {
      const served = results.filter((r, i) => sent[i]!.face === face && r.images > 0);
      expect(served.length, face).toBeGreaterThan(0);
    }
    const balance = await api.services.credits.balance(keyMember(created.record.id));
    expect(balance.total).toBe(0);
    expect(balance.reserved).toBe(0);
  }, 180_000);
});
