import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDelivery } from '../../src/api/deliver-webhook.ts';
import { ApiKeyStore } from '../../src/api/key-store.ts';
import { verifyWebhook } from '../../src/api/webhook-signature.ts';
import type { ArtifactStore } from '../../src/artifacts/artifact-store.ts';
import { createOnce } from '../../src/delivery/once.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { DeliverJobData } from '../../src/queue/job-data.ts';
import { testRedis, uniquePrefix } from '../support/redis.ts';

/** The webhook deliverer on its own: once per job, which failures are retried and which are final. */

const prefix = uniquePrefix('api-webhook');
let redis: Redis;
let receiver: http.Server;
let base: string;
const hits: { path: string; body: string; signature: string }[] = [];
const noArtifacts: ArtifactStore = {
  put: async () => 'unused',
  get: async () => undefined,
  delete: async () => {},
  sweep: async () => 0,
};

beforeAll(async () => {
  redis = testRedis();
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      hits.push({ path: req.url ?? '', body, signature: String(req.headers['x-easel-signature']) });
      const status = Number(/\/status-(\d+)/.exec(req.url ?? '')?.[1] ?? 204);
      res.writeHead(status).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  receiver?.close();
  await redis?.quit();
});

function delivery(resolvesPrivate = false): WebhookDelivery {
  return new WebhookDelivery({
    config: {
      WEBHOOK_SECRET: 'shh',
      API_PUBLIC_URL: 'https://easel.example',
      API_HOST: '127.0.0.1',
      API_PORT: 8080,
      API_ALLOW_PRIVATE_FETCH: false,
    },
    artifacts: noArtifacts,
    keys: new ApiKeyStore(redis, prefix),
    once: createOnce(redis, prefix),
    logger: createLogger('silent'),
    fetch: {
      addressAllowed: (address) => address === '127.0.0.1',
      resolver: async () => [{ address: resolvesPrivate ? '10.0.0.9' : '127.0.0.1', family: 4 }],
    },
  });
}

function failureJob(jobId: string, webhook?: string): DeliverJobData {
  return {
    v: 1,
    kind: 'failure',
    jobId,
    member: { scope: { kind: 'api', id: 'k1' }, userId: 'k1' },
    origin: { platform: 'api', keyId: 'k1', ...(webhook ? { webhook } : {}), trackId: 't-1' },
    request: {
      mode: 'txt2img',
      prompt: 'p',
      negativePrompt: '',
      model: 'easel-mini',
      width: 512,
      height: 512,
      steps: 25,
      guidance: 4,
      sampler: 'ddim',
      seed: 1,
      count: 1,
    },
    failure: { message: 'The model folder is missing.', refunded: 1 },
  };
}

describe('WebhookDelivery', () => {
  it('posts a signed failure answer once, even when the delivery job runs again', async () => {
    const job = failureJob('job-once', `${base}/once`);
    await delivery().deliver(job);
    await delivery().deliver(job);
    const calls = hits.filter((h) => h.path === '/once');
    expect(calls).toHaveLength(1);
    expect(JSON.parse(calls[0]!.body)).toEqual({
      status: 'failed',
      id: 'job-once',
      message: 'The model folder is missing. It was not charged.',
      track_id: 't-1',
      refunded: 1,
    });
    expect(verifyWebhook('shh', calls[0]!.signature, calls[0]!.body)).toBe(true);
  });

  it('does nothing for a job without a webhook', async () => {
    const before = hits.length;
    await delivery().deliver(failureJob('job-none'));
    expect(hits.length).toBe(before);
  });

  it('throws a retryable error on a 5xx and a final one on 410 Gone', async () => {
    await expect(delivery().deliver(failureJob('job-500', `${base}/status-503`))).rejects.toThrow(
      'webhook receiver answered HTTP 503',
    );
    await expect(delivery().deliver(failureJob('job-500', `${base}/status-503`))).rejects.not.toBeInstanceOf(
      UnrecoverableError,
    );
    await expect(delivery().deliver(failureJob('job-410', `${base}/status-410`))).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
  });

  it('gives up for good, without calling, when the name now resolves to a private address', async () => {
    const before = hits.length;
    const attempt = delivery(true).deliver(failureJob('job-rebind', 'http://hooks.example/x'));
    await expect(attempt).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(
      delivery(true).deliver(failureJob('job-rebind-2', 'http://hooks.example/x')),
    ).rejects.toThrow(/10\.0\.0\.9/);
    expect(hits.length).toBe(before);
  });
});
