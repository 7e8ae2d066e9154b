import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForLine } from './child-process.ts';

/**
 * A local S3 API for the tests: s3rver (npm) in a child process of its own, on a free port, over a
 * temporary folder, with one bucket. Debian packages no standalone S3 server (its radosgw needs a
 * whole Ceph cluster), so this is the S3 the tests talk to; see the README for what it leaves out.
 * Its keys are s3rver's fixed pair. It checks the key id but not SigV4 signatures, and unlike S3 it
 * keeps the part of a PUT that arrived when the upload breaks off.
 */
export interface LocalS3 {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The environment a role needs to use it, with `ARTIFACTS_URL` under `prefix`. */
  env(prefix: string): Record<string, string>;
  stop(): Promise<void>;
}

/** `exec` runs it through a wrapper (`['ip', 'netns', 'exec', ns]` for the multi-host test). */
export async function startLocalS3(
  bucket = 'easel-test',
  address = '127.0.0.1',
  exec: string[] = [],
): Promise<LocalS3> {
  const dir = await mkdtemp(join(tmpdir(), 'easel-s3-'));
  const bin = join(process.cwd(), 'node_modules', 's3rver', 'bin', 's3rver.js');
  const [file = process.execPath, ...wrapper] = [...exec, process.execPath];
  const child = spawn(
    file,
    // s3rver encrypts listing continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
    [
      ...wrapper,
      '--openssl-legacy-provider',
      bin,
      '-d',
      dir,
      '-a',
      address,
      '-p',
      '0',
      '--silent',
      '--no-vhost-buckets',
      '--configure-bucket',
      bucket,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let line: string;
  try {
    line = await waitForLine(child, /S3rver listening on/, 20_000);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const port = /:(\d+)\s*$/.exec(line.trim())?.[1];
  const endpoint = `http://${address}:${port}`;
  const s3: LocalS3 = {
    endpoint,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    env: (prefix) => ({
      ARTIFACTS_URL: `s3://${bucket}/${prefix}`,
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    }),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return s3;
}
