import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthFailureLimiter, addressGroup } from '../../src/api/auth-failure-limiter.ts';
import { keyMember } from '../../src/api/key-admin.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';
import { chunked, rawRequest } from './raw-http.ts';

/**
 * Keys are checked before bodies are read: a header key as the request arrives, a body key as soon
 * as it has been read; what comes without a good key is read only up to the small limit, and
 * addresses that keep failing are refused before any of it.
 */

let api: ApiHarness;
let key: string;

const MB = 1024 * 1024;

beforeAll(async () => {
  api = await startApiHarness({
    name: 'api-auth-body',
    env: {
      API_BODY_LIMIT_MB: '20',
      API_UNAUTHENTICATED_BODY_LIMIT_KB: '1024',
      API_AUTH_FAILURES_PER_MINUTE: '0',
    },
  });
  key = (await api.newKey({ credits: 1000 })).key;
});

afterAll(async () => {
  await api?.close();
});

function body(fields: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(fields));
}

describe('key placements', () => {
  it('takes the key as bare Authorization, HTTP Basic password or user, Bearer, x-api-key and API-Key', async () => {
    const basic = (user: string, password: string) =>
      `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const ways: Record<string, string>[] = [
      { authorization: key },
      { authorization: basic('anyone', key) },
      { authorization: basic(key, '') },
      { authorization: `bearer ${key}` },
      { 'x-api-key': key },
      { 'api-key': key },
    ];
    for (const headers of ways) {
      const answer = await api.post(
        '/v1/text2img',
        { prompt: `placement ${JSON.stringify(headers)}` },
        headers,
      );
      expect(answer.status, JSON.stringify(headers)).toBe(200);
      expect(answer.body.status).toBe('processing');
    }
  });

  it('answers 401 for a header key that is wrong or unreadable, even beside a good body key', async () => {
    for (const authorization of ['esk_wrong', 'Bearer', 'Basic !!!', 'Digest realm=x', 'Bearer a b']) {
      const answer = await api.post('/v1/text2img', { prompt: 'x', key }, { authorization });
      expect(answer.status, authorization).toBe(401);
      expect(answer.body).toMatchObject({ status: 'error', message: 'Invalid Api Key' });
    }
  });
});

describe('a header key is checked before the body is read', () => {
  it('answers a wrong header key 401 while its declared 20 MB body is still unsent', async () => {
    const answer = await rawRequest(api.url, {
      path: '/v1/img2img',
      headers: {
        'content-type': 'application/json',
        'content-length': String(20 * MB),
        'x-api-key': 'esk_nope',
      },
    });
    expect(answer.status).toBe(401);
    expect(answer.body.message).toBe('Invalid Api Key');
    expect(answer.headers.connection).toBe('close');
  });

  it('stops reading a body with a wrong header key: the answer comes before the upload ends', async () => {
    const deep = Buffer.from('['.repeat(20 * MB));
    const answer = await rawRequest(api.url, {
      path: '/v1/text2img',
      headers: {
        'content-type': 'application/json',
        'content-length': String(deep.length),
        authorization: 'Bearer esk_nope',
      },
      body: chunked(deep),
    });
    expect(answer.status).toBe(401);
    expect(answer.bytesSent).toBeLessThan(deep.length);
  });
});

describe('a body without a header key', () => {
  it('is refused 413 at the unauthenticated limit when its key comes after 1 MB of image', async () => {
    const late = body({ prompt: 'x', init_image: 'A'.repeat(19 * MB), key });
    const answer = await rawRequest(api.url, {
      path: '/v1/img2img',
      headers: { 'content-type': 'application/json', 'content-length': String(late.length) },
      body: chunked(late),
    });
    expect(answer.status).toBe(413);
    expect(answer.body.tips).toContain('1024 KB');
    expect(answer.body.tips).toContain('header');
    expect(answer.bytesSent).toBeLessThan(late.length);
  });

  it('gets the full limit once its key, sent first, has been checked', async () => {
    // Not an image, so 422 from the image reader: the point is that the 3 MB body was read.
    const early = body({ key, prompt: 'x', init_image: 'A'.repeat(3 * MB) });
    const answer = await api.post('/v1/img2img', early.toString());
    expect(answer.status).toBe(422);
    expect(answer.body.message.init_image[0]).toContain('not an image');
  });

  it('is answered 401 as soon as a wrong body key has been read', async () => {
    const wrong = Buffer.concat([
      Buffer.from('{"key":"esk_wrong","prompt":"x","init_image":"'),
      Buffer.alloc(10 * MB, 65),
    ]);
    const answer = await rawRequest(api.url, {
      path: '/v1/img2img',
      headers: { 'content-type': 'application/json', 'content-length': String(wrong.length + 2) },
      body: chunked(wrong),
    });
    expect(answer.status).toBe(401);
    expect(answer.bytesSent).toBeLessThan(wrong.length);
  });

  it('refuses nesting past 64 levels at once with 400, whatever the body size', async () => {
    const deep = Buffer.from(`{"key":"${key}","prompt":${'['.repeat(10 * MB)}`);
    const answer = await rawRequest(api.url, {
      path: '/v1/text2img',
      headers: { 'content-type': 'application/json', 'content-length': String(deep.length) },
      body: chunked(deep),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: 'error', message: 'The body is nested too deeply' });
    expect(answer.bytesSent).toBeLessThan(deep.length);
    const ok = await api.post('/v1/text2img', {
      key,
      prompt: 'nested but fine',
      extra: JSON.parse(`${'['.repeat(60)}${']'.repeat(60)}`),
    });
    expect(ok.status).toBe(200);
  });

  it('refuses a declared length over the limit before reading anything', async () => {
    const answer = await rawRequest(api.url, {
      path: '/v1/text2img',
      headers: { 'content-type': 'application/json', 'content-length': String(21 * MB) },
    });
    expect(answer.status).toBe(413);
  });

  it('refuses __proto__ fields and too many values with 400, charging nothing', async () => {
    const member = (await api.keys.verify(key))!;
    const before = (await api.services.credits.balance(keyMember(member.id))).total;
    const poisoned = await api.post(
      '/v1/text2img',
      `{"key":"${key}","prompt":"x","__proto__":{"isAdmin":true}}`,
    );
    expect(poisoned.status).toBe(400);
    expect(poisoned.body.message).toBe('The body uses a reserved field name');
    const wide = await api.post(
      '/v1/text2img',
      `{"key":"${key}","prompt":"x","w":[${'0,'.repeat(40_000)}0]}`,
    );
    expect(wide.status).toBe(400);
    expect(wide.body.message).toBe('The body has too many values');
    expect((await api.services.credits.balance(keyMember(member.id))).total).toBe(before);
  });
});

describe('failed authentications per address', () => {
  let limited: ApiHarness;

  beforeAll(async () => {
    limited = await startApiHarness({ name: 'api-auth-limit', env: { API_AUTH_FAILURES_PER_MINUTE: '3' } });
  });

  afterAll(async () => {
    await limited?.close();
  });

  it('answers 429 with Retry-After after too many failures, before checking even a good key', async () => {
    const good = (await limited.newKey()).key;
    for (let i = 0; i < 3; i++) {
      expect(
        (await limited.post('/v1/text2img', { prompt: 'x' }, { 'x-api-key': `esk_guess${i}` })).status,
      ).toBe(401);
    }
    const blocked = await limited.post('/v1/text2img', { prompt: 'x' }, { 'x-api-key': good });
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ status: 'error', message: 'Rate limit exceeded' });
    expect(blocked.body.tips).toContain('wrong API key');
    const wait = Number(blocked.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    // A blocked address's body is not read either.
    const unread = await rawRequest(limited.url, {
      path: '/v1/text2img',
      headers: { 'content-type': 'application/json', 'content-length': String(20 * MB) },
    });
    expect(unread.status).toBe(429);
    // Routes without a key stay open.
    expect((await limited.get('/v1/system_load')).status).toBe(200);
  });

  it('counts across frontends sharing Redis, and by /64 for IPv6', async () => {
    let now = 1_000_000 * 60_000 + 5_000;
    const options = {
      redis: limited.services.redis,
      prefix: `${limited.prefix}:shared`,
      perMinute: 2,
      clock: () => now,
    };
    const one = new AuthFailureLimiter(options);
    const two = new AuthFailureLimiter(options);
    await one.recordFailure('2001:db8:1:2::1');
    expect(await two.retryAfter('2001:db8:1:2:ffff::9')).toBeUndefined();
    await two.recordFailure('2001:db8:1:2:ffff::9');
    expect(await one.retryAfter('2001:db8:1:2::77')).toBe(55);
    expect(await two.retryAfter('2001:db8:1:3::1')).toBeUndefined();
    now += 55_000;
    expect(await one.retryAfter('2001:db8:1:2::1')).toBeUndefined();
  });

  it('groups addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 by /64', () => {
    expect(addressGroup('203.0.113.9')).toBe('203.0.113.9');
    expect(addressGroup('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressGroup('2001:db8:0:1:2:3:4:5')).toBe('2001:db8:0:1::/64');
    expect(addressGroup('not an address')).toBe('not an address');
  });
});
