import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';
import { chunked, type RawAnswer, rawRequest } from './raw-http.ts';

/**
 * What a 20 MB body costs the event loop, sent over a real socket (the sender runs in this process
 * too, so its writes count against the figure). Issue 22: one deeply nested 18 MB body without a key
 * held the loop for 9.5 s. The longest stall is measured with `monitorEventLoopDelay`.
 */

let api: ApiHarness;
let key: string;
const MB = 1024 * 1024;

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-event-loop',
    env: { API_BODY_LIMIT_MB: '20', API_AUTH_FAILURES_PER_MINUTE: '0' },
  });
  key = (await api.newKey({ credits: 100 })).key;
  // Warm the parser's code paths, so the figures are of the steady state and not of the JIT.
  for (let i = 0; i < 3; i++) {
    await api.post('/v1/text2img', JSON.stringify({ prompt: `warm ${i}`, pad: 'x'.repeat(200_000) }));
  }
});

afterAll(async () => {
  await api?.close();
});

async function stallWhile(send: () => Promise<RawAnswer>): Promise<{ answer: RawAnswer; maxMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const answer = await send();
  histogram.disable();
  return { answer, maxMs: histogram.max / 1e6 };
}

const deep = Buffer.from('['.repeat(20 * MB));
const lateKey = Buffer.from(
  JSON.stringify({ prompt: 'x', init_image: 'QUJD'.repeat(5 * MB - 16), key: 'esk_x' }),
);

function send(body: Buffer, headers: Record<string, string> = {}) {
  return () =>
    rawRequest(api.url, {
      path: '/v1/img2img',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
      body: chunked(body),
    });
}

describe('a 20 MB body without a good key', () => {
  it('costs the event loop under 50 ms: deeply nested, no header key', async () => {
    const { answer, maxMs } = await stallWhile(send(deep));
    console.log(
      `20 MB nested body, no key: ${answer.status}, longest event-loop stall ${maxMs.toFixed(1)} ms`,
    );
    expect(answer.status).toBe(400);
    expect(maxMs).toBeLessThan(50);
  });

  it('costs the event loop under 50 ms: deeply nested, wrong header key', async () => {
    const { answer, maxMs } = await stallWhile(send(deep, { authorization: 'Bearer esk_wrong' }));
    console.log(
      `20 MB nested body, wrong header key: ${answer.status}, longest stall ${maxMs.toFixed(1)} ms`,
    );
    expect(answer.status).toBe(401);
    expect(maxMs).toBeLessThan(50);
  });

  it('costs the event loop under 50 ms: a flat 20 MB image with its key last', async () => {
    const { answer, maxMs } = await stallWhile(send(lateKey));
    console.log(`20 MB flat body, key last: ${answer.status}, longest stall ${maxMs.toFixed(1)} ms`);
    expect(answer.status).toBe(413);
    expect(maxMs).toBeLessThan(50);
  });
});

describe('a 20 MB body with a good key (a figure, not a limit)', () => {
  it('is read in full and refused as not an image, nothing charged', async () => {
    const body = Buffer.from(JSON.stringify({ key, prompt: 'x', init_image: 'QUJD'.repeat(5 * MB - 64) }));
    const record = (await api.keys.verify(key))!;
    const before = await api.services.credits.balance(keyMember(record.id));
    const { answer, maxMs } = await stallWhile(send(body));
    console.log(`20 MB flat body, good key first: ${answer.status}, longest stall ${maxMs.toFixed(1)} ms`);
    expect(answer.status).toBe(422);
    expect(await api.services.credits.balance(keyMember(record.id))).toEqual(before);
  });
});
