import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress } from '../../src/api/public-address.ts';
import { type Resolver, SafeFetchError, safeFetch } from '../../src/api/safe-fetch.ts';

/** A local server standing in for "the internet"; it counts every request that reaches it. */
let server: http.Server;
let port: number;
const hits: { url: string; host: string | undefined }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits.push({ url: req.url ?? '', host: req.headers.host });
    const url = new URL(req.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    if (url.pathname === '/redirect' && to) {
      res.writeHead(302, { location: to }).end();
    } else if (url.pathname === '/loop') {
      res.writeHead(302, { location: '/loop' }).end();
    } else if (url.pathname === '/big') {
      res.writeHead(200, { 'content-length': String(2 * 1024 * 1024) }).end(Buffer.alloc(2 * 1024 * 1024));
    } else if (url.pathname === '/big-chunked') {
      res.writeHead(200);
      for (let i = 0; i < 32; i++) res.write(Buffer.alloc(64 * 1024));
      res.end();
    } else if (url.pathname === '/hang') {
      // never answers
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** Treats the local test server's address as public, as if it were somewhere on the internet. */
const localIsPublic = (address: string) => address === '127.0.0.1' || isPublicAddress(address);

async function refusal(promise: Promise<unknown>): Promise<SafeFetchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafeFetchError);
  return error as SafeFetchError;
}

describe('isPublicAddress', () => {
  it('accepts only globally routable unicast addresses', () => {
    for (const ok of ['8.8.8.8', '93.184.216.34', '2606:4700::1111'])
      expect(isPublicAddress(ok), ok).toBe(true);
    for (const blocked of [
      '127.0.0.1',
      '::1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      'fd00:ec2::254',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '64:ff9b::a00:1',
      '224.0.0.1',
      'not-an-ip',
    ]) {
      expect(isPublicAddress(blocked), blocked).toBe(false);
    }
  });
});

describe('safeFetch', () => {
  it('refuses loopback, private and metadata addresses without connecting', async () => {
    const before = hits.length;
    for (const url of [
      `http://127.0.0.1:${port}/`,
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://2130706433:${port}/`,
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.100.100.200/',
      'http://[fd00:ec2::254]/',
      'http://0.0.0.0/',
    ]) {
      const error = await refusal(safeFetch(url, { timeoutMs: 2000 }));
      expect(error.code, url).toBe('blocked-address');
    }
    expect(hits.length).toBe(before);
  });

  it('refuses schemes other than http and https', async () => {
    for (const url of [
      'file:///etc/passwd',
      'ftp://example.com/a.png',
      'gopher://example.com/',
      'not a url',
    ]) {
      const error = await refusal(safeFetch(url));
      expect(error.code, url).toBe('bad-url');
    }
  });

  it('refuses a name that resolves to a private address, or to any private address among others', async () => {
    const resolver: Resolver = async (host) =>
      host === 'internal.example'
        ? [{ address: '10.1.2.3', family: 4 }]
        : [
            { address: '93.184.216.34', family: 4 },
            { address: '127.0.0.1', family: 4 },
          ];
    const single = await refusal(safeFetch('http://internal.example/a.png', { resolver }));
    expect(single.code).toBe('blocked-address');
    expect(single.message).toContain('internal.example resolves to 10.1.2.3');
    const mixed = await refusal(safeFetch('http://mixed.example/a.png', { resolver }));
    expect(mixed.message).toContain('127.0.0.1');
  });

  it('connects to the address it checked, keeping the name in the Host header', async () => {
    const resolver: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const response = await safeFetch(`http://images.example:${port}/pic`, {
      resolver,
      addressAllowed: localIsPublic,
    });
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('hello');
    expect(hits.at(-1)).toEqual({ url: '/pic', host: `images.example:${port}` });
  });

  it('refuses a redirect to a private or metadata address after a public first hop', async () => {
    for (const target of [
      'http://10.0.0.1/x.png',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
    ]) {
      const url = `http://127.0.0.1:${port}/redirect?to=${encodeURIComponent(target)}`;
      const error = await refusal(safeFetch(url, { addressAllowed: localIsPublic }));
      expect(error.code, target).toBe('blocked-address');
      expect(error.message).toMatch(/^redirected to /);
    }
  });

  it('refuses a redirect to a name that resolves to a private address', async () => {
    const resolver: Resolver = async () => [{ address: '192.168.0.10', family: 4 }];
    const url = `http://127.0.0.1:${port}/redirect?to=${encodeURIComponent('http://router.example/')}`;
    const error = await refusal(safeFetch(url, { resolver, addressAllowed: localIsPublic }));
    expect(error.message).toContain('router.example resolves to 192.168.0.10');
  });

  it('follows a redirect to an allowed address', async () => {
    const url = `http://127.0.0.1:${port}/redirect?to=${encodeURIComponent('/final')}`;
    const response = await safeFetch(url, { addressAllowed: localIsPublic });
    expect(response.status).toBe(200);
    expect(response.url).toBe(`http://127.0.0.1:${port}/final`);
  });

  it('gives up on redirect loops', async () => {
    const error = await refusal(
      safeFetch(`http://127.0.0.1:${port}/loop`, { allowPrivate: true, maxRedirects: 3 }),
    );
    expect(error.code).toBe('too-many-redirects');
  });

  it('stops reading past the size limit, declared or not', async () => {
    for (const path of ['/big', '/big-chunked']) {
      const error = await refusal(
        safeFetch(`http://127.0.0.1:${port}${path}`, { allowPrivate: true, maxBytes: 1024 * 1024 }),
      );
      expect(error.code, path).toBe('too-large');
      expect(error.message).toBe('is larger than 1 MB');
    }
  });

  it('gives up on a server that does not answer in time', async () => {
    const started = Date.now();
    const error = await refusal(
      safeFetch(`http://127.0.0.1:${port}/hang`, { allowPrivate: true, timeoutMs: 300 }),
    );
    expect(error.code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('allows loopback when private fetches are allowed (API_ALLOW_PRIVATE_FETCH)', async () => {
    const response = await safeFetch(`http://127.0.0.1:${port}/ok`, { allowPrivate: true });
    expect(response.body.toString()).toBe('hello');
  });
});
