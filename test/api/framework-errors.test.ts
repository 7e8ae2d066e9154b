import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';
import { rawRequest } from './raw-http.ts';

/** What Fastify and Node refuse before a route runs is answered in the API's error shape too. */

let api: ApiHarness;
let key: string;

beforeAll(async () => {
  api = await startApiHarness({ name: 'api-framework-errors' });
  key = (await api.newKey()).key;
});

afterAll(async () => {
  await api?.close();
});

function expectApiShape(body: unknown): void {
  expect(body).toMatchObject({ status: 'error', message: expect.any(String) });
  expect(body).not.toHaveProperty('statusCode');
  expect(body).not.toHaveProperty('code');
}

describe("Fastify's and Node's own refusals", () => {
  it('answers 414 for a job id over the path parameter limit', async () => {
    const answer = await api.get(`/v1/jobs/${'x'.repeat(150)}`, { 'x-api-key': key });
    expect(answer.status).toBe(414);
    expectApiShape(answer.body);
    expect(answer.body.message).toBe('URI too long');
  });

  it('answers 400 for a path with a broken %-escape', async () => {
    const answer = await rawRequest(api.url, {
      method: 'GET',
      path: '/v1/jobs/%E0%A4%A',
      headers: { 'x-api-key': key },
    });
    expect(answer.status).toBe(400);
    expectApiShape(answer.body);
  });

  it('answers 414 for a URL over 16 KB and 431 for headers over 16 KB', async () => {
    const longUrl = await rawRequest(api.url, { method: 'GET', path: `/v1/models?q=${'a'.repeat(20_000)}` });
    expect(longUrl.status).toBe(414);
    expectApiShape(longUrl.body);
    const bigHeaders = await rawRequest(api.url, {
      method: 'GET',
      path: '/v1/models',
      headers: { 'x-filler': 'a'.repeat(20_000) },
    });
    expect(bigHeaders.status).toBe(431);
    expectApiShape(bigHeaders.body);
  });

  it('answers 400 for a request that is not HTTP', async () => {
    const answer = await rawRequest(api.url, { method: 'GET', path: '/v1/models bad request line' });
    expect(answer.status).toBe(400);
    expectApiShape(answer.body);
  });

  it('answers 405 with Allow for a method the path does not take, 404 for no path', async () => {
    const wrongMethod = await api.get('/v1/text2img');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expectApiShape(wrongMethod.body);
    const put = await rawRequest(api.url, { method: 'PUT', path: '/v1/jobs/abc' });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD');
    const none = await api.post('/v1/nothing', { key });
    expect(none.status).toBe(404);
    expectApiShape(none.body);
  });

  it('answers 415 and 400 for bodies of the wrong type or broken JSON', async () => {
    const xml = await api.post('/v1/text2img', '<prompt/>', {
      'content-type': 'application/xml',
      'x-api-key': key,
    });
    expect(xml.status).toBe(415);
    expectApiShape(xml.body);
    const empty = await rawRequest(api.url, {
      path: '/v1/text2img',
      headers: { 'content-type': 'application/json', 'content-length': '0', 'x-api-key': key },
    });
    expect(empty.status).toBe(400);
    expectApiShape(empty.body);
    const short = await rawRequest(api.url, {
      path: '/v1/text2img',
      headers: {
        'content-type': 'application/json',
        'content-length': '5',
        'x-api-key': key,
        'transfer-encoding': 'chunked',
      },
      body: [Buffer.from('2\r\n{}\r\n0\r\n\r\n')],
    });
    expect(short.status).toBe(400);
    expectApiShape(short.body);
  });

  it('answers 503 in the same shape to a request that arrives while the server closes', async () => {
    const closing = await startApiHarness({ name: 'api-closing' });
    const own = (await closing.newKey()).key;
    const { hostname, port } = new URL(closing.url);
    const socket = connect({ host: hostname, port: Number(port) });
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString();
    });
    await new Promise((r) => socket.once('connect', r));
    const first = JSON.stringify({ prompt: 'in flight when close began' });
    socket.write(
      `POST /v1/text2img HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-api-key: ${own}\r\n` +
        `content-length: ${first.length}\r\n\r\n${first.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    // close() waits for the request in flight; a second one pipelined behind it finds the server closing.
    const closed = closing.close();
    await new Promise((r) => setTimeout(r, 50));
    socket.write(`${first.slice(5)}GET /v1/jobs/abc HTTP/1.1\r\nhost: x\r\nx-api-key: ${own}\r\n\r\n`);
    await closed;
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    const answers = received.split(/(?=HTTP\/1\.1 )/);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200/);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 503/);
    const body = JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4));
    expectApiShape(body);
  });
});
