import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { isPublicAddress } from '../../src/api/public-address.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * A client must not make easel fetch what only easel can reach. The API runs with private fetches
 * forbidden (the production default); 127.0.0.2 stands in for a public host, DNS is faked for names.
 * Every refused request leaves no credit spent, no job, no stored image.
 */

const PUBLIC_STAND_IN = '127.0.0.2';
let api: ApiHarness;
let key: string;
let keyId: string;
let loopbackHits = 0;
let loopback: http.Server;
let loopbackPort: number;
let publicHost: http.Server;
let publicBase: string;

beforeAll(async () => {
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } })
    .png()
    .toBuffer();
  loopback = http.createServer((_req, res) => {
    loopbackHits += 1;
    res.writeHead(200, { 'content-type': 'image/png' }).end(png);
  });
  loopback.listen(0, '127.0.0.1');
  await once(loopback, 'listening');
  loopbackPort = (loopback.address() as AddressInfo).port;

  publicHost = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    if (to) res.writeHead(302, { location: to }).end();
    else res.writeHead(200, { 'content-type': 'image/png' }).end(png);
  });
  publicHost.listen(0, PUBLIC_STAND_IN);
  await once(publicHost, 'listening');
  publicBase = `http://${PUBLIC_STAND_IN}:${(publicHost.address() as AddressInfo).port}`;

  api = await startApiHarness({
    name: 'api-ssrf',
    env: { API_ALLOW_PRIVATE_FETCH: 'false', WEBHOOK_SECRET: 'secret' },
    fetch: {
      addressAllowed: (address) => address === PUBLIC_STAND_IN || isPublicAddress(address),
      resolver: async (host) => {
        if (host === 'evil.example') return [{ address: '10.0.0.8', family: 4 }];
        if (host === 'metadata.example') return [{ address: '169.254.169.254', family: 4 }];
        if (host === 'images.example') return [{ address: PUBLIC_STAND_IN, family: 4 }];
        if (host === 'localhost')
          return [
            { address: '127.0.0.1', family: 4 },
            { address: '::1', family: 6 },
          ];
        throw new Error('NXDOMAIN');
      },
    },
  });
  const created = await api.newKey({ credits: 20 });
  key = created.key;
  keyId = created.record.id;
});

afterAll(async () => {
  loopback?.close();
  publicHost?.close();
  await api?.close();
});

async function state() {
  const [balance, counts, stored] = await Promise.all([
    api.services.credits.balance(keyMember(keyId)),
    api.services.queues.generate.getJobCounts('wait', 'prioritized', 'active', 'delayed'),
    import('node:fs/promises').then((fs) => fs.readdir(api.artifactsDir)),
  ]);
  return {
    credits: balance.total,
    jobs: Object.values(counts).reduce((a, b) => a + b, 0),
    stored: stored.length,
  };
}

const PRIVATE_URLS = () => [
  `http://127.0.0.1:${loopbackPort}/cat.png`,
  `http://[::1]:${loopbackPort}/cat.png`,
  `http://localhost:${loopbackPort}/cat.png`,
  'http://10.0.0.1/cat.png',
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://[fd00:ec2::254]/latest/meta-data/',
];

describe('init_image and mask_image URLs', () => {
  it('refuses loopback, private and metadata addresses with a 422 naming the field', async () => {
    const before = await state();
    for (const url of PRIVATE_URLS()) {
      const answer = await api.post('/v1/img2img', { key, prompt: 'steal', init_image: url });
      expect(answer.status, url).toBe(422);
      expect(answer.body.message.init_image[0], url).toMatch(
        /^The init_image URL points to a private, loopback or link-local address/,
      );
    }
    expect(loopbackHits).toBe(0);
    expect(await state()).toEqual(before);
  });

  it('refuses a redirect from a public host to a private or metadata address', async () => {
    const before = await state();
    for (const target of [
      `http://127.0.0.1:${loopbackPort}/cat.png`,
      'http://169.254.169.254/latest/meta-data/',
    ]) {
      const answer = await api.post('/v1/img2img', {
        key,
        prompt: 'follow me',
        init_image: `${publicBase}/go?to=${encodeURIComponent(target)}`,
      });
      expect(answer.status).toBe(422);
      expect(answer.body.message.init_image[0]).toContain('redirected to');
    }
    expect(loopbackHits).toBe(0);
    expect(await state()).toEqual(before);
  });

  it('refuses a name that resolves to a private address', async () => {
    const answer = await api.post('/v1/inpaint', {
      key,
      prompt: 'x',
      init_image: `${publicBase}/fine.png`,
      mask_image: 'http://evil.example/mask.png',
    });
    expect(answer.status).toBe(422);
    expect(answer.body.message.mask_image[0]).toContain('evil.example resolves to 10.0.0.8');
  });

  it('refuses schemes other than http(s)', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://images.example/a.png', 'gopher://images.example/']) {
      const answer = await api.post('/v1/img2img', { key, prompt: 'x', init_image: url });
      expect(answer.status, url).toBe(422);
    }
  });

  it('still fetches from a public address (by IP and by name)', async () => {
    for (const url of [
      `${publicBase}/fine.png`,
      `${publicBase.replace(PUBLIC_STAND_IN, 'images.example')}/ok.png`,
    ]) {
      const answer = await api.post('/v1/img2img', { key, prompt: `public ${url}`, init_image: url });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.status).toBe('processing');
    }
  });
});

describe('webhook URLs', () => {
  it('refuses private, loopback, metadata and privately-resolving webhooks at request time', async () => {
    const before = await state();
    for (const url of [...PRIVATE_URLS(), 'http://metadata.example/hook', 'ftp://images.example/hook']) {
      const answer = await api.post('/v1/text2img', { key, prompt: 'hook', webhook: url });
      expect(answer.status, url).toBe(422);
      expect(answer.body.message.webhook[0], url).toMatch(/^The webhook URL /);
    }
    expect(await state()).toEqual(before);
  });
});
