import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the two Hugging Face hub endpoints the downloader uses, for any number of
 * repos: the recursive tree listing (`/api/models/{owner}/{name}/tree/{revision}`) and file contents
 * (`/{owner}/{name}/resolve/{revision}/{path}`) with HTTP Range support. It can ignore ranges, and
 * it can cut a file's transfer after some bytes (the connection drops, as a flaky network does).
 */
export interface FakeRepo {
  files: Record<string, Buffer>;
  /** Paths listed as LFS files (sha256 checksums); the rest are git blobs (sha1). */
  lfs?: readonly string[];
}

export interface FakeHub {
  url: string;
  repos: Map<string, FakeRepo>;
  /** Content requests (not size probes): the path and the Range header asked for. */
  ranges: { repo: string; path: string; range: string | undefined }[];
  honourRanges: boolean;
  /** The next transfer of this path stops after `bytes` and the connection is destroyed. */
  cut?: { path: string; bytes: number };
  /** This path is served with its first bytes zeroed (a transfer that arrives damaged). */
  corrupt?: string;
  close(): Promise<void>;
}

function listing(repo: FakeRepo, path: string) {
  const bytes = repo.files[path]!;
  if (repo.lfs?.includes(path) === true) {
    return {
      type: 'file',
      path,
      size: 134,
      oid: 'f'.repeat(40),
      lfs: { oid: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, pointerSize: 134 },
    };
  }
  const gitSha1 = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { type: 'file', path, size: bytes.length, oid: gitSha1 };
}

function directories(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs];
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  let server: Server | undefined;
  const hub: FakeHub = {
    url: '',
    repos: new Map(Object.entries(repos)),
    ranges: [],
    honourRanges: true,
    close: () => new Promise((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    if (tree !== null) {
      const repo = hub.repos.get(decodeURIComponent(tree[1]!));
      if (repo === undefined) {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error: 'Repository not found' }));
        return;
      }
      const paths = Object.keys(repo.files);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify([
          ...directories(paths).map((path) => ({ type: 'directory', path, size: 0, oid: '0'.repeat(40) })),
          ...paths.map((p) => listing(repo, p)),
        ]),
      );
      return;
    }
    const file = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repoName = file === null ? undefined : decodeURIComponent(file[1]!);
    const repo = repoName === undefined ? undefined : hub.repos.get(repoName);
    const path = file === null ? '' : decodeURIComponent(file[3]!);
    const bytes = repo?.files[path];
    if (repo === undefined || bytes === undefined) {
      res.statusCode = 404;
      res.setHeader('X-Error-Code', 'EntryNotFound');
      res.end();
      return;
    }
    const listed = listing(repo, path);
    res.setHeader('ETag', `"${listed.oid}"`);
    if (listed.lfs) res.setHeader('X-Linked-ETag', `"${listed.lfs.oid}"`);
    const range = req.headers.range;
    const probe = range === 'bytes=0-0';
    if (!probe) hub.ranges.push({ repo: repoName!, path, range });
    const match = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
    const served = path === hub.corrupt ? Buffer.from(bytes).fill(0, 0, 10) : bytes;
    let body = served;
    if ((hub.honourRanges || probe) && match) {
      const start = Number(match[1]);
      const end = match[2] ? Number(match[2]) : bytes.length - 1;
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${end}/${bytes.length}`);
      body = served.subarray(start, end + 1);
    } else {
      res.statusCode = 200;
    }
    res.setHeader('content-length', String(body.length));
    const cut = hub.cut;
    if (!probe && cut !== undefined && cut.path === path) {
      hub.cut = undefined;
      res.flushHeaders();
      res.write(body.subarray(0, cut.bytes), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hub;
}
