import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyWithCredits } from '../../src/api/key-admin.ts';
import { ApiKeyStore } from '../../src/api/key-store.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { createS3Client } from '../../src/artifacts/s3-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log/logger.ts';
import { freePort } from '../../src/redis/private-redis-server.ts';
import {
  type EaselProcess,
  startEasel,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/easel-process.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';
import { until } from '../support/until.ts';

/**
 * Three machines' worth of easel sharing one Redis and one S3 bucket and nothing else: a render
 * worker, an API with delivery, and a second API that hands out presigned links. Each has its own
 * data folder, so an image only reaches the others through the bucket.
 */
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

let s3: LocalS3;
let client: S3Client;
let dir: string;
let services: Services;
let hooks: WebhookReceiver;
let key: string;
let apiBase: string;
let presignBase: string;
const processes: EaselProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-s3-roles-'));
  s3 = await startLocalS3();
  client = createS3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  hooks = await startWebhookReceiver();
  const prefix = uniquePrefix('s3-roles');
  const shared = {
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: prefix,
    ...s3.env('e2e'),
    METRICS_PORT: '0',
    API_ALLOW_PRIVATE_FETCH: 'true',
    API_SYNC_WAIT_MS: '0',
    WEBHOOK_SECRET: 'e2e-secret',
    DEFAULT_COOLDOWN_S: '0',
    DUPLICATE_WINDOW_S: '0',
  };
  services = await createServices(parseConfig(shared), createLogger('silent'), { prefix });
  key = (
    await createKeyWithCredits(services, new ApiKeyStore(services.redis, prefix), {
      name: 's3',
      credits: 100,
    })
  ).key;
  const [apiPort, presignPort] = [await freePort(), await freePort()];
  apiBase = `http://127.0.0.1:${apiPort}`;
  presignBase = `http://127.0.0.1:${presignPort}`;
  const machine = (name: string, env: Record<string, string>) => ({
    ...shared,
    DATA_DIR: join(dir, name),
    ARTIFACTS_DIR: join(dir, name, 'artifacts'),
    ...env,
  });
  processes.push(
    startEasel(machine('worker', { ROLES: 'worker' })),
    startEasel(machine('api', { ROLES: 'api,deliver', API_PORT: String(apiPort), API_PUBLIC_URL: apiBase })),
    startEasel(
      machine('presign', {
        ROLES: 'api',
        API_PORT: String(presignPort),
        API_PUBLIC_URL: presignBase,
        ARTIFACTS_PRESIGN: 'true',
        ARTIFACTS_PRESIGN_EXPIRY_S: '120',
      }),
    ),
  );
  await Promise.all([
    processes[0]?.started(['worker']),
    processes[1]?.started(['api', 'deliver']),
    processes[2]?.started(['api']),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await services?.close();
  await hooks?.close();
  client?.destroy();
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function submit(path: string, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${apiBase}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ webhook: hooks.url, ...body }),
  });
  const answer = (await response.json()) as { id?: string; status?: string; message?: unknown };
  expect(answer.id, JSON.stringify(answer)).toBeDefined();
  return String(answer.id);
}

async function delivered(jobId: string): Promise<Record<string, unknown>> {
  await until(async () => hooks.calls.some((c) => c.id === jobId), 60_000).catch(() => {
    throw new Error(
      `no webhook for ${jobId}; the logs:\n${processes.map((p) => p.log().slice(-3000)).join('\n---\n')}`,
    );
  });
  // Long enough for a second, duplicate delivery to show up.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const calls = hooks.calls.filter((c) => c.id === jobId);
  expect(calls).toHaveLength(1);
  return calls[0] as Record<string, unknown>;
}

async function bucketKeys(): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'e2e/' }));
  return (page.Contents ?? []).map((o) => o.Key ?? '');
}

async function filesUnder(path: string): Promise<string[]> {
  return readdir(path, { recursive: true }).catch(() => []);
}

describe('worker, API and delivery on separate machines sharing an S3 bucket', () => {
  let imageUrl: string;
  let png: Buffer;

  it('renders on the worker, stores in the bucket, and the API serves the image the worker wrote', async () => {
    const jobId = await submit('/v1/text2img', {
      prompt: 'a red circle on a blue background',
      num_inference_steps: 4,
    });
    const hook = await delivered(jobId);
    expect(hook.status).toBe('success');
    imageUrl = String((hook.output as string[])[0]);
    expect(imageUrl.startsWith(`${apiBase}/v1/images/`)).toBe(true);
    const id = /\/v1\/images\/([A-Za-z0-9_-]+)\.png$/.exec(imageUrl)?.[1] ?? '';
    expect(await bucketKeys()).toContain(`e2e/${id}`);
    const response = await fetch(imageUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    png = Buffer.from(await response.arrayBuffer());
    expect(png.subarray(0, 4).equals(PNG_MAGIC)).toBe(true);
    // Nothing went to any machine's own disk.
    for (const name of ['worker', 'api', 'presign'])
      expect(await filesUnder(join(dir, name, 'artifacts'))).toEqual([]);
  }, 90_000);

  it('with ARTIFACTS_PRESIGN the API redirects to a presigned link that serves the same bytes', async () => {
    const file = imageUrl.slice(imageUrl.lastIndexOf('/') + 1);
    const response = await fetch(`${presignBase}/v1/images/${file}`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = response.headers.get('location') ?? '';
    expect(location.startsWith(`${s3.endpoint}/${s3.bucket}/e2e/`)).toBe(true);
    expect(location).toContain('X-Amz-Signature=');
    const direct = await fetch(location);
    expect(direct.status).toBe(200);
    expect(Buffer.from(await direct.arrayBuffer()).equals(png)).toBe(true);
    const unknown = await fetch(`${presignBase}/v1/images/AAAAAAAAAAAAAAAAAAAAAA.png`, {
      redirect: 'manual',
    });
    expect(unknown.status).toBe(404);
  });

  it('an input image uploaded to the API reaches the worker through the bucket, and delivery reads the result from it', async () => {
    const jobId = await submit('/v1/img2img', {
      prompt: 'a red circle on a blue background',
      init_image: png.toString('base64'),
      strength: 0.5,
      num_inference_steps: 4,
      base64: true,
    });
    const hook = await delivered(jobId);
    expect(hook.status, JSON.stringify(hook)).toBe('success');
    // base64 answers are built by the deliver role from the artifact the worker stored.
    const bytes = Buffer.from(String((hook.output as string[])[0]), 'base64');
    expect(bytes.subarray(0, 4).equals(PNG_MAGIC)).toBe(true);
    for (const name of ['worker', 'api', 'presign'])
      expect(await filesUnder(join(dir, name, 'artifacts'))).toEqual([]);
  }, 90_000);
});
