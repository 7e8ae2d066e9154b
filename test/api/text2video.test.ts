import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { computeCost, ratesFromConfig } from '../../src/credits/cost.ts';
import { ffmpegVersion } from '../../src/engine/video/ffmpeg.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * Clips over real HTTP: easel's /v1/text2video and modelslab's v6 video/text2video on the real
 * server and worker (tiny model), the clip served back at the answer's URLs, the webhook's body the
 * same answer, and bad input refused by field with nothing charged.
 */
let api: ApiHarness;
let key: string;
let keyId: string;
let receiver: http.Server;
let receiverUrl: string;
const hooks: { path: string; body: string }[] = [];
const hasFfmpeg = ffmpegVersion() !== undefined;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      hooks.push({ path: req.url ?? '', body });
      res.writeHead(200).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  api = await startApiHarness({
    name: 'api-video',
    workers: true,
    env: { API_SYNC_WAIT_MS: '60000', API_ALLOW_PRIVATE_FETCH: 'true', WEBHOOK_SECRET: 'video-secret' },
  });
  const created = await api.newKey({ credits: 500 });
  key = created.key;
  keyId = created.record.id;
}, 120_000);

afterAll(async () => {
  receiver?.close();
  await api?.close();
});

async function credits(): Promise<number> {
  return (await api.services.credits.balance(keyMember(keyId))).total;
}

async function download(url: string) {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('POST /v1/text2video', () => {
  it('renders a clip, links it in output and every format in video.files, and charges per frame', async () => {
    const before = await credits();
    const answer = await api.post('/v1/text2video', {
      key,
      prompt: 'a red circle',
      num_frames: 8,
      fps: 4,
      loop: true,
      output_type: 'gif',
      seed: 77,
      webhook: `${receiverUrl}/clip`,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe('success');
    expect(answer.body.output).toEqual([expect.stringMatching(/\/v1\/videos\/[A-Za-z0-9_-]+\.gif$/)]);
    expect(answer.body.video).toMatchObject({
      format: 'gif',
      frames: 8,
      fps: 4,
      duration: 2,
      loop: true,
      motion: 'walk',
    });
    expect(answer.body.meta).toMatchObject({ num_frames: 8, fps: 4, loop: true, motion: 'walk', seed: 77 });
    expect(Object.keys(answer.body.video.files).sort()).toEqual(
      hasFfmpeg ? ['gif', 'mp4', 'webp'] : ['gif', 'webp'],
    );

    const gif = await download(answer.body.output[0]);
    expect([gif.status, gif.type]).toEqual([200, 'image/gif']);
    const meta = await sharp(gif.bytes, { animated: true }).metadata();
    expect([meta.format, meta.pages, meta.width, meta.pageHeight]).toEqual(['gif', 8, 512, 512]);
    const webp = await download(answer.body.video.files.webp);
    expect([webp.status, webp.type]).toEqual([200, 'image/webp']);
    if (hasFfmpeg) {
      const mp4 = await download(answer.body.video.files.mp4);
      expect([mp4.status, mp4.type, mp4.bytes.subarray(4, 8).toString('latin1')]).toEqual([
        200,
        'video/mp4',
        'ftyp',
      ]);
    }
    // A clip's id with another format's extension is not served.
    const wrong = await download(answer.body.output[0].replace(/\.gif$/, '.webp'));
    expect(wrong.status).toBe(404);

    // Charged what eight images of the same size and steps cost together.
    const job = await api.services.jobs.get(answer.body.id);
    const rates = ratesFromConfig(api.config);
    const eight = computeCost({ ...job!.data.request, video: undefined, count: 8 }, rates);
    expect(job!.data.cost).toBe(eight);
    expect(before - (await credits())).toBe(eight);

    const hook = await waitFor(() => hooks.find((h) => h.path === '/clip'));
    const called = JSON.parse(hook.body);
    expect(called.output).toEqual(answer.body.output);
    expect(called.video).toEqual(answer.body.video);
  });

  it('refuses bad clip fields by name, with nothing charged and no job', async () => {
    const before = await credits();
    const jobsBefore = await api.services.queues.generate.getJobCounts();
    const cases: [Record<string, unknown>, string, string][] = [
      [{ num_frames: 7 }, 'num_frames', 'num_frames: must be a whole number of frames from 8 to 48 (got 7)'],
      [
        { num_frames: 64 },
        'num_frames',
        'num_frames: must be a whole number of frames from 8 to 48 (got 64)',
      ],
      [{ fps: 90 }, 'fps', 'fps: must be from 1 to 30 frames a second (got 90)'],
      [
        { motion: 'morph' },
        'morph_to',
        'morph_to: a morph needs the second prompt it morphs into; give it, or pick another motion',
      ],
      [
        { motion: 'drift', loop: true },
        'loop',
        'loop: a drift zooms further with every frame and never comes back to its first; leave loop out',
      ],
      [{ samples: 2 }, 'samples', 'samples: a video is one clip; leave samples out (got 2)'],
      [{ output_type: 'avi' }, 'output_type', 'output_type: must be mp4, gif, webp (got "avi")'],
    ];
    for (const [fields, field, message] of cases) {
      const answer = await api.post('/v1/text2video', { key, prompt: 'a red circle', ...fields });
      expect(answer.status, JSON.stringify(answer.body)).toBe(422);
      const listed = answer.body.errors ?? answer.body.fields ?? answer.body;
      expect(JSON.stringify(listed), field).toContain(message.replace(/"/g, '\\"'));
    }
    const withoutPrompt = await api.post('/v1/text2video', { key, morph_to: 'a blue square' });
    expect(withoutPrompt.status).toBe(422);
    expect(JSON.stringify(withoutPrompt.body)).toContain('prompt');
    expect(await credits()).toBe(before);
    expect(await api.services.queues.generate.getJobCounts()).toEqual(jobsBefore);
  });
});

describe('modelslab POST /api/v6/video/text2video', () => {
  it('answers a morph in modelslab’s shape; its fetch and future link give the clip', async () => {
    const answer = await api.post('/api/v6/video/text2video', {
      key,
      prompt: 'a red circle',
      morph_to: 'a blue square',
      num_frames: 8,
      output_type: 'mp4',
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe('success');
    expect(answer.body.video.motion).toBe('morph');
    const expected = hasFfmpeg ? 'mp4' : 'gif';
    expect(answer.body.video.format).toBe(expected);
    expect(answer.body.output[0]).toMatch(new RegExp(`\\.${expected}$`));
    const fetched = await api.post(`/api/v6/video/fetch/${answer.body.id}`, { key });
    expect(fetched.body.output).toEqual(answer.body.output);
    const future = await download(`${api.url}/v1/jobs/${answer.body.id}/video`);
    const linked = await download(answer.body.output[0]);
    expect(future.status).toBe(200);
    expect(Buffer.compare(future.bytes, linked.bytes)).toBe(0);
  });
});
