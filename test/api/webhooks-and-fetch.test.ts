import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/api/webhook-signature.ts';
import { startArtifactSweeper } from '../../src/artifacts/artifact-sweeper.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { createLogger } from '../../src/log/logger.ts';
import { type AnswerBody, type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * The asynchronous side of the API: a `processing` answer fetched later, webhooks (signed, retried
 * after a 500, for results and failures), and images expiring after the retention period.
 */

const SECRET = 'test-webhook-secret';
let api: ApiHarness;
let key: string;
let clockOffsetMs = 0;

interface Call {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
const calls: Call[] = [];
/** Status codes the receiver answers with, per path, in order (then 200). */
const script = new Map<string, number[]>();
let receiver: http.Server;
let receiverUrl: string;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      calls.push({ path: req.url ?? '', headers: req.headers, body });
      const status = script.get(req.url ?? '')?.shift() ?? 200;
      res.writeHead(status).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  api = await startApiHarness({
    name: 'api-async',
    workers: true,
    clock: () => Date.now() + clockOffsetMs,
    env: {
      API_SYNC_WAIT_MS: '0',
      API_ALLOW_PRIVATE_FETCH: 'true',
      WEBHOOK_SECRET: SECRET,
      IMAGE_RETENTION_HOURS: '1',
    },
  });
  key = (await api.newKey({ credits: 100 })).key;
}, 120_000);

afterAll(async () => {
  receiver?.close();
  await api?.close();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function fetchUntilDone(url: string, headers: Record<string, string> = {}): Promise<AnswerBody> {
  return until('the result', async () => {
    const path = url.replace(api.url, '');
    const answer = path.startsWith('/v1/fetch/')
      ? await api.post(path, { key }, headers)
      : await api.get(path, headers);
    expect(answer.status).toBe(200);
    return answer.body.status === 'processing' ? undefined : answer.body;
  });
}

function callsTo(path: string): Call[] {
  return calls.filter((c) => c.path === path);
}

describe('processing, then fetch', () => {
  it('answers processing at once with an id, an ETA and where to fetch, then the result there', async () => {
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'a slow blue circle',
      num_inference_steps: 4,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'processing',
      id: expect.any(String),
      eta: expect.any(Number),
    });
    expect(answer.body.fetch_result).toBe(`${api.url}/v1/fetch/${answer.body.id}`);

    const done = await fetchUntilDone(answer.body.fetch_result);
    expect(done.status).toBe('success');
    expect(done.id).toBe(answer.body.id);
    expect(done.output).toHaveLength(1);

    const viaGet = await api.get(`/v1/jobs/${answer.body.id}`, { authorization: `Bearer ${key}` });
    expect(viaGet.body).toEqual(done);
  });

  it('answers 404 for a job id that does not exist', async () => {
    const answer = await api.post('/v1/fetch/no-such-job', { key });
    expect(answer.status).toBe(404);
    expect(answer.body.status).toBe('error');
  });
});

describe('webhooks', () => {
  it('POSTs the result to the webhook, signed with WEBHOOK_SECRET', async () => {
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'a hooked square',
      webhook: `${receiverUrl}/hook-a`,
      track_id: 'track-a',
    });
    const call = await until('the webhook call', async () => callsTo('/hook-a')[0]);
    const body = JSON.parse(call.body);
    expect(body).toMatchObject({ status: 'success', id: answer.body.id, track_id: 'track-a' });
    expect(body.output[0]).toMatch(/\/v1\/images\/.+\.png$/);
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.headers['x-easel-delivery']).toBe(`${answer.body.id}:result`);
    const signature = call.headers['x-easel-signature'] as string;
    expect(verifyWebhook(SECRET, signature, call.body)).toBe(true);
    expect(verifyWebhook('another-secret', signature, call.body)).toBe(false);
    expect(verifyWebhook(SECRET, signature, call.body.replace('success', 'failed'))).toBe(false);
    // The body equals what fetch answers.
    expect(await fetchUntilDone(answer.body.fetch_result)).toEqual(body);
  });

  it('retries with backoff after the receiver answers 500, and calls once more only', async () => {
    script.set('/hook-b', [500]);
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'a retried star',
      webhook: `${receiverUrl}/hook-b`,
    });
    const [first, second] = await until('the retried call', async () => {
      const seen = callsTo('/hook-b');
      return seen.length >= 2 ? seen : undefined;
    });
    expect(JSON.parse(first!.body).id).toBe(answer.body.id);
    expect(second!.body).toBe(first!.body);
    expect(second!.headers['x-easel-delivery']).toBe(first!.headers['x-easel-delivery']);
    expect(verifyWebhook(SECRET, second!.headers['x-easel-signature'] as string, second!.body)).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect(callsTo('/hook-b')).toHaveLength(2);
  });

  it("signs with the key's own secret when it has one", async () => {
    const own = await api.newKey({ webhookSecret: true });
    await api.post('/v1/text2img', { key: own.key, prompt: 'own secret', webhook: `${receiverUrl}/hook-c` });
    const call = await until('the webhook call', async () => callsTo('/hook-c')[0]);
    const signature = call.headers['x-easel-signature'] as string;
    expect(verifyWebhook(own.record.webhookSecret!, signature, call.body)).toBe(true);
    expect(verifyWebhook(SECRET, signature, call.body)).toBe(false);
  });

  it('tells the webhook about a failed job, and that it was refunded', async () => {
    const answer = await api.post('/v1/text2img', {
      key,
      prompt: 'cannot render',
      model_id: 'tiny-broken',
      webhook: `${receiverUrl}/hook-d`,
    });
    const call = await until('the failure call', async () => callsTo('/hook-d')[0]);
    const body = JSON.parse(call.body);
    expect(body).toMatchObject({ status: 'failed', id: answer.body.id });
    expect(body.message).toContain('It was not charged.');
    expect(body.refunded).toBeGreaterThan(0);
  });
});

describe('image retention', () => {
  it('stops serving an image past IMAGE_RETENTION_HOURS, and the sweeper deletes it', async () => {
    const answer = await api.post('/v1/text2img', { key, prompt: 'a fading moon' });
    const done = await fetchUntilDone(answer.body.fetch_result);
    const url = done.output[0] as string;
    expect((await fetch(url)).status).toBe(200);

    clockOffsetMs = 61 * 60_000;
    try {
      const expired = await fetch(url);
      expect(expired.status).toBe(404);
      expect(((await expired.json()) as AnswerBody).message).toBe('Image not found');

      const sweeper = startArtifactSweeper({
        artifacts: new DiskArtifactStore(api.artifactsDir),
        retentionHours: 1,
        logger: createLogger('silent'),
        clock: () => Date.now() + clockOffsetMs,
      });
      expect(await sweeper.sweepNow()).toBeGreaterThan(0);
      sweeper.stop();
    } finally {
      clockOffsetMs = 0;
    }
    // Gone for good: even with the clock back, there is nothing to serve.
    expect((await fetch(url)).status).toBe(404);
  });
});
