import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';
import { chunked, type RawAnswer, rawRequest } from './raw-http.ts';

/**
 * What a 20 MB body costs the event loop, sent over a real socket (the sender runs in this process
 * too, so its writes count against the figure). Issue 22: one deeply nested 18 MB body without a key
 * held the loop for 9.5 s; a 20 MB image with a good key, 160-190 ms (one JSON.parse, one base64
 * decode, one hash of it). The longest stall is measured with `monitorEventLoopDelay`; the workers run
 * in this process too, so an admitted job's first steps count as well.
 */

let api: ApiHarness;
let key: string;
/** A real PNG of random noise (incompressible, so large), as ~15 MB of base64 text. */
let noiseBase64: Buffer;
const MB = 1024 * 1024;
const NOISE = { width: 2048, height: 1792 };

/**
 * A body `{...fields, [field]: "<text>"}` made of buffers: a 20 MB JS string built in the test would
 * leave garbage that the collector reclaims during the measurement, and count against the server.
 */
function bodyWith(fields: Record<string, unknown>, field: string, text: Buffer): Buffer {
  const head = JSON.stringify(fields).slice(0, -1);
  return Buffer.concat([Buffer.from(`${head},${JSON.stringify(field)}:"`), text, Buffer.from('"}')]);
}

/** Base64 of `bytes` encoded 48 KB at a time, for the same reason. */
function base64Of(bytes: Buffer): Buffer {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 48 * 1024) {
    pieces.push(Buffer.from(bytes.subarray(i, i + 48 * 1024).toString('base64')));
  }
  return Buffer.concat(pieces);
}

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-event-loop',
    workers: true,
    env: { API_BODY_LIMIT_MB: '20', API_AUTH_FAILURES_PER_MINUTE: '0' },
  });
  key = (await api.newKey({ credits: 100 })).key;
  const noise = await sharp(randomBytes(NOISE.width * NOISE.height * 3), {
    raw: { ...NOISE, channels: 3 },
  })
    .png({ compressionLevel: 1 })
    .toBuffer();
  noiseBase64 = base64Of(noise);
  // Warm the reader's, decoder's and hash's code paths, so the figures are of the steady state and
  // not of the JIT.
  const small = await sharp(noise).resize(64, 64).png().toBuffer();
  for (let i = 0; i < 3; i++) {
    await api.post(
      '/v1/img2img',
      { key, prompt: `warm ${i}`, init_image: `${'QUJD'.repeat(100_000)}\n` },
      { 'idempotency-key': `warm-${i}` },
    );
    await api.post('/v1/img2img', { key, prompt: `warm ${i}`, init_image: small.toString('base64') });
  }
  await idle();
}, 60_000);

/** Waits until no job of the key is running, so that the worker in this process is idle when a figure is taken. */
async function idle(): Promise<void> {
  for (let waited = 0; (await balance()).reserved > 0 && waited < 30_000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function balance() {
  const record = (await api.keys.verify(key))!;
  return api.services.credits.balance(keyMember(record.id));
}

afterAll(async () => {
  await api?.close();
});

/** The longest event-loop stall while one request is sent and answered. */
async function oneStall(send: () => Promise<RawAnswer>): Promise<{ answer: RawAnswer; maxMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const answer = await send();
  histogram.disable();
  return { answer, maxMs: histogram.max / 1e6 };
}

const STALL_LIMIT_MS = 50;

/**
 * The least of up to three tries' longest stalls (stopping at the first under the limit). On a
 * loaded 2-core machine the loop also stalls while the OS runs other processes, which no code of
 * ours causes; a real regression (a synchronous 20 MB parse, decode or hash) stalls every try.
 */
async function stallWhile(send: () => Promise<RawAnswer>): Promise<{ answer: RawAnswer; maxMs: number }> {
  let best = await oneStall(send);
  for (let tries = 1; tries < 3 && best.maxMs >= STALL_LIMIT_MS; tries++) {
    const next = await oneStall(send);
    if (next.maxMs < best.maxMs) best = next;
  }
  return best;
}

const deep = Buffer.from('['.repeat(20 * MB));
const lateKey = Buffer.from(
  JSON.stringify({ prompt: 'x', init_image: 'QUJD'.repeat(5 * MB - 16), key: 'esk_x' }),
);

function send(body: Buffer, headers: Record<string, string> = {}, path = '/v1/img2img') {
  return () =>
    rawRequest(
      api.url,
      {
        path,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
        body: chunked(body),
      },
      60_000,
    );
}

describe('a 20 MB body without a good key', () => {
  it('costs the event loop under 50 ms: deeply nested, no header key', async () => {
    const { answer, maxMs } = await stallWhile(send(deep));
    console.log(
      `20 MB nested body, no key: ${answer.status}, longest event-loop stall ${maxMs.toFixed(1)} ms`,
    );
    expect(answer.status).toBe(400);
    expect(maxMs).toBeLessThan(STALL_LIMIT_MS);
  });

  it('costs the event loop under 50 ms: deeply nested, wrong header key', async () => {
    const { answer, maxMs } = await stallWhile(send(deep, { authorization: 'Bearer esk_wrong' }));
    console.log(
      `20 MB nested body, wrong header key: ${answer.status}, longest stall ${maxMs.toFixed(1)} ms`,
    );
    expect(answer.status).toBe(401);
    expect(maxMs).toBeLessThan(STALL_LIMIT_MS);
  });

  it('costs the event loop under 50 ms: a flat 20 MB image with its key last', async () => {
    const { answer, maxMs } = await stallWhile(send(lateKey));
    console.log(`20 MB flat body, key last: ${answer.status}, longest stall ${maxMs.toFixed(1)} ms`);
    expect(answer.status).toBe(413);
    expect(maxMs).toBeLessThan(STALL_LIMIT_MS);
  });
});

describe('a 20 MB body with a good key first', () => {
  it('costs the event loop under 50 ms: read in full and refused as not an image, nothing charged', async () => {
    const body = bodyWith({ key, prompt: 'x' }, 'init_image', Buffer.alloc(20 * MB - 128, 'QUJD'));
    const before = await balance();
    const { answer, maxMs } = await stallWhile(send(body));
    console.log(`20 MB flat body, good key first: ${answer.status}, longest stall ${maxMs.toFixed(1)} ms`);
    expect(answer.status).toBe(422);
    expect(answer.body.message.init_image[0]).toContain('not an image');
    expect(await balance()).toEqual(before);
    expect(maxMs).toBeLessThan(STALL_LIMIT_MS);
  });

  it('costs the event loop under 50 ms: a real 15 MB base64 PNG is decoded, stored and admitted', async () => {
    const body = bodyWith(
      { key, prompt: 'noise', strength: 0.5 },
      'init_image',
      Buffer.concat([Buffer.from('data:image/png;base64,'), noiseBase64]),
    );
    expect(body.length).toBeGreaterThan(14 * MB);
    const before = await balance();
    // The Idempotency-Key makes the route hash the image too.
    const { answer, maxMs } = await stallWhile(send(body, { 'idempotency-key': 'noise-1' }));
    console.log(
      `${(body.length / MB).toFixed(1)} MB body with a real PNG, good key first: ${answer.status} ` +
        `${answer.body.status}, longest stall ${maxMs.toFixed(1)} ms`,
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe('processing');
    expect(answer.body.id).toEqual(expect.any(String));
    // Charged once (a retry of the measurement finds the same job by its Idempotency-Key).
    expect(before.total - (await balance()).total).toBe(1);
    expect(maxMs).toBeLessThan(STALL_LIMIT_MS);
    await idle();
  }, 60_000);

  it('costs the event loop under 50 ms: a 20 MB track_id is refused 422 as soon as it passes 64 KB', async () => {
    const body = bodyWith({ key, prompt: 'x' }, 'track_id', Buffer.alloc(20 * MB - 128, 'x'));
    const { answer, maxMs } = await stallWhile(send(body, {}, '/v1/text2img'));
    console.log(`20 MB track_id, good key first: ${answer.status}, longest stall ${maxMs.toFixed(1)} ms`);
    expect(answer.status).toBe(422);
    expect(answer.body.message.track_id).toEqual(['The track_id field must be at most 256 characters.']);
    expect(answer.bytesSent).toBeLessThan(body.length);
    expect(maxMs).toBeLessThan(STALL_LIMIT_MS);
  });
});
