import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { apiKeyScope } from '../../src/api/key-store.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * Input images are screened before admission. No explicit picture is needed to show it: with the
 * sexy threshold at 0 the built-in classifier flags every picture, so the path of an NSFW input is
 * the one any input takes (test/engine/input-image-screening.test.ts shows ordinary thresholds
 * letting a drawing through).
 */
let api: ApiHarness;
let key: string;
let keyId: string;

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-input-screening',
    // Private fetches allowed: the URL input below is served from this machine.
    env: { NSFW_SEXY_THRESHOLD: '0', API_ALLOW_PRIVATE_FETCH: 'true' },
  });
  const created = await api.newKey({ credits: 100 });
  key = created.key;
  keyId = created.record.id;
}, 120_000);

afterAll(async () => {
  await api?.close();
});

async function drawing(): Promise<string> {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="#fffdf5"/><circle cx="128" cy="128" r="70" fill="#3060c0"/></svg>';
  return (await sharp(Buffer.from(svg)).png().toBuffer()).toString('base64');
}

async function traces() {
  const counts = await api.services.queues.generate.getJobCounts();
  return {
    credits: (await api.services.credits.balance(keyMember(keyId))).total,
    jobs: Object.values(counts).reduce((a, b) => a + b, 0),
    files: readdirSync(api.artifactsDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
      .length,
  };
}

describe('input images under the NSFW policy block (the default)', () => {
  it.each([
    ['/v1/img2img', { prompt: 'a blue circle', strength: 0.5 }],
    ['/v1/super_resolution', { scale: 2 }],
  ])(
    '%s refuses a flagged init image with 422, charging, queueing and keeping nothing',
    async (path, fields) => {
      const before = await traces();
      const answer = await api.post(path, { key, init_image: await drawing(), ...fields });
      expect(answer.status).toBe(422);
      expect(JSON.stringify(answer.body)).toMatch(
        /flagged as NSFW, and NSFW images are blocked here; nothing was charged/,
      );
      expect(await traces()).toEqual(before);
    },
  );
});

describe('an init image given as a URL', () => {
  it('is fetched, screened and refused like an uploaded one, keeping nothing', async () => {
    const png = Buffer.from(await drawing(), 'base64');
    const server = http.createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'image/png' }).end(png),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/drawing.png`;
      const before = await traces();
      const answer = await api.post('/v1/img2img', {
        key,
        init_image: url,
        prompt: 'a blue circle',
        strength: 0.5,
      });
      expect(answer.status).toBe(422);
      expect(JSON.stringify(answer.body)).toMatch(/flagged as NSFW, and NSFW images are blocked here/);
      expect(await traces()).toEqual(before);
    } finally {
      server.close();
    }
  });
});

describe('input images under another NSFW policy', () => {
  it('admits a flagged init image when the scope shows NSFW as spoilers (the result is screened as usual)', async () => {
    const other = await api.newKey({ credits: 100 });
    const member = keyMember(other.record.id);
    await api.services.quotas.set({ member, isAdmin: true }, apiKeyScope(other.record.id), {
      nsfw: 'spoiler',
    });
    const answer = await api.post('/v1/img2img', {
      key: other.key,
      init_image: await drawing(),
      prompt: 'a blue circle',
      strength: 0.5,
    });
    expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBe(200);
    expect(answer.body.status).not.toBe('error');
  });
});
