import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';

let root: string;
let clock: number;
let store: DiskArtifactStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-artifacts-'));
  clock = 1_000_000;
  store = new DiskArtifactStore(root, () => clock);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function allFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const shard of await readdir(root)) {
    for (const name of await readdir(join(root, shard))) files.push(name);
  }
  return files;
}

describe('DiskArtifactStore', () => {
  it('gives back the bytes and metadata it stored', async () => {
    const id = await store.put(Buffer.from('png bytes'), { contentType: 'image/png', jobId: 'job-1' });
    const got = await store.get(id);
    expect(got?.bytes.toString()).toBe('png bytes');
    expect(got?.meta).toEqual({ contentType: 'image/png', jobId: 'job-1', createdAt: 1_000_000 });
  });

  it('issues unguessable 128-bit base64url ids, a new one every time', async () => {
    const ids = await Promise.all(
      Array.from({ length: 20 }, () => store.put(Buffer.from('x'), { contentType: 'text/plain' })),
    );
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(ids).size).toBe(20);
  });

  it('leaves no temporary files behind after a write', async () => {
    await store.put(Buffer.alloc(1000), { contentType: 'image/png' });
    const files = await allFiles();
    expect(files).toHaveLength(2);
    expect(files.some((f) => f.includes('.tmp-'))).toBe(false);
  });

  it('answers undefined for unknown ids and for anything that is not an id', async () => {
    expect(await store.get('AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(await store.get('../../etc/passwd')).toBeUndefined();
    expect(await store.get('')).toBeUndefined();
  });

  it('forgets an artifact once deleted', async () => {
    const id = await store.put(Buffer.from('bye'), { contentType: 'text/plain' });
    await store.delete(id);
    expect(await store.get(id)).toBeUndefined();
    expect(await allFiles()).toEqual([]);
  });

  it('sweeps artifacts older than the cutoff and keeps newer ones', async () => {
    const old = await store.put(Buffer.from('old'), { contentType: 'text/plain' });
    clock = 2_000_000;
    const fresh = await store.put(Buffer.from('fresh'), { contentType: 'text/plain' });
    expect(await store.sweep(1_500_000)).toBe(1);
    expect(await store.get(old)).toBeUndefined();
    expect((await store.get(fresh))?.bytes.toString()).toBe('fresh');
  });

  it('sweeps the leftovers of an interrupted write once they are old', async () => {
    store = new DiskArtifactStore(root);
    const id = await store.put(Buffer.from('kept'), { contentType: 'text/plain' });
    const shard = join(root, id.slice(0, 2));
    const leftover = join(shard, 'BBBBBBBBBBBBBBBBBBBBBB.tmp-abc');
    await writeFile(leftover, 'half');
    const longAgo = new Date(Date.now() - 3_600_000);
    await utimes(leftover, longAgo, longAgo);
    await store.sweep(Date.now() - 60_000);
    expect(await allFiles()).not.toContain('BBBBBBBBBBBBBBBBBBBBBB.tmp-abc');
    expect(await store.get(id)).toBeDefined();
  });
});
