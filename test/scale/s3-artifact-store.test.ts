import { Readable } from 'node:stream';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactStoreFromConfig } from '../../src/artifacts/artifact-store-from-config.ts';
import { parseArtifactsUrl } from '../../src/artifacts/artifacts-url.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { createS3Client, S3ArtifactStore } from '../../src/artifacts/s3-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { freePort } from '../../src/redis/private-redis-server.ts';
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';

let s3: LocalS3;
let client: S3Client;
let run = 0;

beforeAll(async () => {
  s3 = await startLocalS3();
  client = createS3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
});

afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

/** A store under a prefix of its own, so tests never see each other's objects. */
function freshStore(options: ConstructorParameters<typeof S3ArtifactStore>[2] = {}) {
  run += 1;
  const prefix = `run-${run}/artifacts/`;
  return { prefix, store: new S3ArtifactStore({ bucket: s3.bucket, prefix }, client, options) };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key ?? '');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('S3ArtifactStore against a local S3 server', () => {
  it('gives back the bytes and metadata it stored, in one object named by the id', async () => {
    const { store, prefix } = freshStore({ now: () => 1_234_567 });
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const id = await store.put(bytes, { contentType: 'image/png', jobId: 'job-1' });
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const got = await store.get(id);
    expect(got?.bytes.equals(bytes)).toBe(true);
    expect(got?.meta).toEqual({ contentType: 'image/png', jobId: 'job-1', createdAt: 1_234_567 });
    // No sidecar: the metadata is on the object itself, written by the same PUT.
    expect(await keysUnder(prefix)).toEqual([`${prefix}${id}`]);
  });

  it('answers undefined for unknown ids and for anything that is not an id', async () => {
    const { store } = freshStore();
    expect(await store.get('AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(await store.get('../../etc/passwd')).toBeUndefined();
    expect(await store.get('')).toBeUndefined();
  });

  it('forgets an artifact once deleted, and deleting an unknown id is no error', async () => {
    const { store, prefix } = freshStore();
    const id = await store.put(Buffer.from('bye'), { contentType: 'text/plain' });
    await store.delete(id);
    await store.delete(id);
    expect(await store.get(id)).toBeUndefined();
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('sweeps artifacts last modified before the cutoff, keeps newer ones and objects that are not its own', async () => {
    const { store, prefix } = freshStore();
    const old = await store.put(Buffer.from('old'), { contentType: 'text/plain' });
    // S3 keeps last-modified times in whole seconds: leave more than one between the two puts.
    await sleep(1100);
    const cutoff = Date.now();
    await sleep(1100);
    const fresh = await store.put(Buffer.from('fresh'), { contentType: 'text/plain' });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}notes.txt`, Body: 'mine' }));
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}x/${old}`, Body: 'nested' }));
    expect(await store.sweep(cutoff)).toBe(1);
    expect(await store.get(old)).toBeUndefined();
    expect((await store.get(fresh))?.bytes.toString()).toBe('fresh');
    expect((await keysUnder(prefix)).sort()).toEqual(
      [`${prefix}${fresh}`, `${prefix}notes.txt`, `${prefix}x/${old}`].sort(),
    );
    // A later cutoff takes the rest of its own, and only those.
    expect(await store.sweep(Date.now() + 60_000)).toBe(1);
    expect(await keysUnder(prefix)).toEqual([`${prefix}notes.txt`, `${prefix}x/${old}`]);
  });

  it('sweeps past one page of listing', async () => {
    const { store, prefix } = freshStore({ listPageSize: 100 });
    for (let i = 0; i < 5; i += 1) {
      await Promise.all(
        Array.from({ length: 50 }, () => store.put(Buffer.from('x'), { contentType: 'text/plain' })),
      );
    }
    expect(await store.sweep(Date.now() + 60_000)).toBe(250);
    expect(await keysUnder(prefix)).toEqual([]);
  }, 60_000);

  it('never serves a half artifact when an upload breaks off, even where the server keeps the part that arrived', async () => {
    const { store, prefix } = freshStore({ presignExpiresS: 60 });
    const bytes = Buffer.alloc(256 * 1024, 7);
    const whole = await store.put(bytes, { contentType: 'image/png' });
    // The same upload again (the headers a put sends: content type and metadata, hash included),
    // under another id, with half the promised bytes before the uploader goes away.
    const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${whole}` }));
    const half = 'CCCCCCCCCCCCCCCCCCCCCC';
    const body = new Readable({ read() {} });
    body.push(bytes.subarray(0, 64 * 1024));
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 300);
    await expect(
      client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: `${prefix}${half}`,
          Body: body,
          ContentLength: bytes.length,
          ContentType: 'image/png',
          Metadata: head.Metadata,
        }),
        { abortSignal: aborted.signal },
      ),
    ).rejects.toThrow(/abort/i);
    await sleep(300);
    expect(await store.get(half)).toBeUndefined();
    expect(await store.directLink?.(half)).toBeUndefined();
    expect(await store.directLink?.(whole)).toBeDefined();
    expect((await store.get(whole))?.bytes.equals(bytes)).toBe(true);
    // Whatever the server kept goes with the next sweep past its time.
    await store.sweep(Date.now() + 60_000);
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('hands out presigned links when asked to, which fetch the bytes without credentials', async () => {
    const { store } = freshStore({ presignExpiresS: 60 });
    const id = await store.put(Buffer.from('png bytes'), { contentType: 'image/png' });
    const link = await store.directLink?.(id);
    expect(link?.meta.contentType).toBe('image/png');
    expect(link?.expiresInS).toBe(60);
    const response = await fetch(link?.url ?? '');
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).toString()).toBe('png bytes');
    expect(await store.directLink?.('DDDDDDDDDDDDDDDDDDDDDD')).toBeUndefined();
  });

  it('a presigned link stops working when it expires', async () => {
    const { store } = freshStore({ presignExpiresS: 1 });
    const id = await store.put(Buffer.from('png bytes'), { contentType: 'image/png' });
    const link = await store.directLink?.(id);
    await sleep(2100);
    expect((await fetch(link?.url ?? '')).status).toBe(403);
  });

  it('offers no direct links unless presigning is configured', () => {
    expect(freshStore().store.directLink).toBeUndefined();
  });

  it('fails the put with the server’s reason when the key id is unknown, and stores nothing', async () => {
    // s3rver checks the key id but not SigV4 signatures; a wrong secret is caught only by a real S3.
    const { prefix } = freshStore();
    const wrong = createS3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      accessKeyId: 'NOT-A-KEY',
      secretAccessKey: s3.secretAccessKey,
    });
    const store = new S3ArtifactStore({ bucket: s3.bucket, prefix }, wrong);
    await expect(store.put(Buffer.from('x'), { contentType: 'image/png' })).rejects.toThrow(
      /Access Key Id you provided does not exist/,
    );
    expect(await keysUnder(prefix)).toEqual([]);
    wrong.destroy();
  });

  it('fails clearly when the S3 server does not answer', async () => {
    const port = await freePort();
    const nowhere = createS3Client({
      region: s3.region,
      endpoint: `http://127.0.0.1:${port}`,
      accessKeyId: 'a',
      secretAccessKey: 'b',
    });
    const store = new S3ArtifactStore({ bucket: s3.bucket, prefix: '' }, nowhere);
    await expect(store.put(Buffer.from('x'), { contentType: 'image/png' })).rejects.toThrow(/ECONNREFUSED/);
    nowhere.destroy();
  });

  it('fails when the bucket does not exist', async () => {
    const store = new S3ArtifactStore({ bucket: 'no-such-bucket', prefix: '' }, client);
    await expect(store.put(Buffer.from('x'), { contentType: 'image/png' })).rejects.toThrow(/bucket/i);
  });
});

describe('ARTIFACTS_URL and the S3 variables', () => {
  it('parses the bucket and a prefix that always ends with one slash', () => {
    expect(parseArtifactsUrl('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseArtifactsUrl('s3://my-bucket/')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseArtifactsUrl('s3://my.bucket/easel/images/')).toEqual({
      bucket: 'my.bucket',
      prefix: 'easel/images/',
    });
  });

  it('refuses what is not an s3:// URL of a valid bucket, saying why', () => {
    const problem = (v: string) => {
      const parsed = parseArtifactsUrl(v);
      return 'problem' in parsed ? parsed.problem : undefined;
    };
    expect(problem('https://bucket/prefix')).toMatch(/expected s3:\/\/bucket\/prefix/);
    expect(problem('s3://')).toMatch(/not an S3 bucket name/);
    expect(problem('s3://My_Bucket/x')).toMatch(/"My_Bucket" is not an S3 bucket name/);
    expect(problem('s3://bucket/a//b')).toMatch(/empty, "\." or "\.\." part/);
    expect(problem('s3://bucket/../b')).toMatch(/empty, "\." or "\.\." part/);
  });

  it('names every bad S3 variable in one configuration error', () => {
    let message = '';
    try {
      parseConfig({
        ARTIFACTS_URL: 'bucket/prefix',
        AWS_ENDPOINT_URL: 'minio:9000',
        ARTIFACTS_PRESIGN_EXPIRY_S: '0',
        AWS_ACCESS_KEY_ID: 'only-the-id',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/ARTIFACTS_URL: expected s3:\/\/bucket\/prefix/);
    expect(message).toMatch(/AWS_ENDPOINT_URL: expected an http:\/\/ or https:\/\/ URL/);
    expect(message).toMatch(/ARTIFACTS_PRESIGN_EXPIRY_S: expected a whole number from 1/);
    expect(message).toMatch(/AWS_SECRET_ACCESS_KEY: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together/);
  });

  it('refuses presigned links without an S3 store', () => {
    expect(() => parseConfig({ ARTIFACTS_PRESIGN: 'true' })).toThrow(
      /ARTIFACTS_URL: required when ARTIFACTS_PRESIGN=true/,
    );
  });

  it('chooses the disk store by default and the S3 store when ARTIFACTS_URL is set', async () => {
    expect(await artifactStoreFromConfig(parseConfig({ ARTIFACTS_DIR: '/tmp/x' }))).toBeInstanceOf(
      DiskArtifactStore,
    );
    const store = await artifactStoreFromConfig(
      parseConfig({ ...s3.env('chosen/'), ARTIFACTS_PRESIGN: 'true' }),
    );
    expect(store).toBeInstanceOf(S3ArtifactStore);
    const id = await store.put(Buffer.from('through the config'), { contentType: 'image/png' });
    expect((await store.get(id))?.bytes.toString()).toBe('through the config');
    expect((await store.directLink?.(id))?.expiresInS).toBe(900);
  });
});
