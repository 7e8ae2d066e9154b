import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis/private-redis-server.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { printedCurlCalls, readmeShellBlocks } from './readme-blocks.ts';

/**
 * The README's ```sh blocks, run as a newcomer pastes them (from the repository root, one bash
 * session, so a variable set in one block is there in the next) against a real `easel start`. The
 * README's only rewritten text is the API's default port, replaced by the service's free one.
 */
const root = resolve(import.meta.dirname, '../..');
const blocks = readmeShellBlocks(join(root, 'README.md'));
const work = mkdtempSync(join(tmpdir(), 'easel-readme-'));
// The examples write into data/renders of the clone (data/ is git-ignored); start from nothing.
const renders = join(root, 'data', 'renders');

let service: ChildProcess | undefined;
let serviceLog = '';
let env: Record<string, string>;
let port: number;

async function waitForWorker(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const load = await fetch(`http://127.0.0.1:${port}/v1/system_load`)
      .then((r) => (r.ok ? (r.json() as Promise<{ workers?: number }>) : undefined))
      .catch(() => undefined);
    if ((load?.workers ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error(`easel start did not come up:\n${serviceLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  rmSync(renders, { recursive: true, force: true });
  port = await freePort();
  env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniquePrefix('readme'),
    DATA_DIR: join(work, 'data'),
    MODELS_DIR: join(work, 'models'),
    ARTIFACTS_DIR: join(work, 'artifacts'),
    API_PORT: String(port),
    METRICS_PORT: '0',
    ROLES: 'api,worker,deliver',
    DEFAULT_COOLDOWN_S: '0',
    // Two cores shared with the rest of the suite: give a render time rather than answer "processing".
    API_SYNC_WAIT_MS: '60000',
    LOG_LEVEL: 'warn',
    npm_config_update_notifier: 'false',
  };
  service = spawn('node', ['bin/easel.js', 'start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  service.stdout?.on('data', (d: Buffer) => {
    serviceLog += d.toString();
  });
  service.stderr?.on('data', (d: Buffer) => {
    serviceLog += d.toString();
  });
  await waitForWorker(30_000);
}, 60_000);

afterAll(async () => {
  if (service && service.exitCode === null) {
    const exited = new Promise((r) => service?.once('exit', r));
    service.kill('SIGTERM');
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

function runBash(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn('bash', ['-c', script], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('exit', (code) => resolveRun({ code, output }));
  });
}

describe('the README', () => {
  it('has runnable examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const block of blocks) expect(block.text, `block at README line ${block.line}`).not.toContain('...');
  });

  it('runs every ```sh block as printed against a started service', async () => {
    const marker = (i: number) => `::: README block ${i}`;
    const script = [
      'set -euo pipefail',
      ...blocks.flatMap((block, i) => [
        `echo; echo '${marker(i)}'`,
        block.text.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`),
      ]),
      `echo; echo '${marker(blocks.length)}'`,
    ].join('\n');
    const { code, output } = await runBash(script);
    const reached = blocks.findIndex((_, i) => !output.includes(marker(i + 1)));
    expect(
      code,
      `README block at line ${blocks[reached]?.line} failed (exit ${code}):\n${output}\n--- service log ---\n${serviceLog}`,
    ).toBe(0);

    blocks.forEach((block, i) => {
      const start = output.indexOf(marker(i));
      const out = output.slice(start, output.indexOf(marker(i + 1), start));
      const where = `README block at line ${block.line}:\n${out}`;
      expect(out, where).not.toMatch(/"status":\s*"(error|failed)"/);
      const successes = out.match(/"status":"success"/g)?.length ?? 0;
      expect(successes, where).toBeGreaterThanOrEqual(printedCurlCalls(block.text));
    });
    // What the examples promise they make.
    expect(existsSync(join(renders, 'easel-7.png'))).toBe(true);
    expect(existsSync(join(renders, 'easel-7-grid.png'))).toBe(true);
    expect(existsSync(join(renders, 'img2img', 'easel-3.png'))).toBe(true);
  }, 150_000);
});
