import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyWithCredits, keyMember } from '../../src/api/key-admin.ts';
import { ApiKeyStore } from '../../src/api/key-store.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { tcpAnswers } from '../../src/redis/private-redis-server.ts';
import { waitForLine } from '../support/child-process.ts';
import {
  type EaselProcess,
  startEasel,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/easel-process.ts';
import { createLab, type Lab, netnsUnavailable } from '../support/netns-lab.ts';
import { uniquePrefix } from '../support/redis.ts';
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';
import { until } from '../support/until.ts';

/**
 * Five hosts in network namespaces the test makes: Redis (AOF, appendfsync everysec), S3, an API
 * with delivery, and two render workers, each a real `easel start`. 50 jobs go through the API
 * while (a) a worker host's link goes down mid-render for longer than BullMQ's 30 s lock, (b) in
 * that time the Redis host's server is killed and restarts from its AOF, (c) the Redis link gets 200 ms of delay
 * and 5% packet loss. Afterwards every job was delivered once, charged once, nothing is reserved,
 * and every image is there.
 *
 * This kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is off), so (c) is made of what it has: the
 * loss is an nftables rule on the Redis host's interface dropping 5% of the packets it sends, and
 * the delay a proxy on the Redis host (fixtures/delay-proxy.ts) that holds what Redis sends for
 * 200 ms.
 */
const unavailable = netnsUnavailable();
if (unavailable !== undefined)
  console.log(`multi-host test skipped: network namespaces unavailable (${unavailable})`);

const JOBS = { linkDown: 20, redisRestart: 20, slowLink: 10 };
let lab: Lab;
let dir: string;
let s3: LocalS3;
let services: Services;
let hooks: WebhookReceiver;
let key: string;
let member: MemberRef;
let apiBase: string;
let redisArgs: string[];
let redis: ChildProcess;
let proxy: ChildProcess;
const processes: EaselProcess[] = [];
const figures: Record<string, number> = {};
let retried = 0;
const submissions: { label: string; start: number; end: number }[] = [];

function spawnOn(exec: string[], args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const [file = '', ...rest] = [...exec, ...args];
  return spawn(file, rest, { stdio: [stdin, 'pipe', 'pipe'] });
}

async function startRedis(): Promise<void> {
  redis = spawnOn(lab.hosts.redis?.exec ?? [], redisArgs);
  await until(async () => {
    const answered = await new Promise<boolean>((resolve) => {
      const check = spawnOn(lab.hosts.redis?.exec ?? [], ['redis-cli', '-p', '6380', 'ping']);
      let out = '';
      check.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      check.once('exit', () => resolve(out.includes('PONG')));
    });
    return answered;
  }, 15_000);
}

beforeAll(async () => {
  if (unavailable !== undefined) return;
  dir = await mkdtemp(join(tmpdir(), 'easel-multi-host-'));
  lab = createLab(['redis', 's3', 'api', 'worker1', 'worker2']);
  const host = (name: string) => {
    const found = lab.hosts[name];
    if (!found) throw new Error(`no host ${name}`);
    return found;
  };
  redisArgs = [
    'redis-server',
    '--port',
    '6380',
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
  ];
  await startRedis();
  proxy = spawnOn(
    host('redis').exec,
    [
      process.execPath,
      '--import',
      'tsx',
      'test/scale/fixtures/delay-proxy.ts',
      '0.0.0.0',
      '6379',
      '127.0.0.1',
      '6380',
    ],
    'pipe',
  );
  await waitForLine(proxy, /proxy ready/, 20_000);
  s3 = await startLocalS3('easel-test', host('s3').address, host('s3').exec);
  hooks = await startWebhookReceiver(lab.gateway);
  const prefix = uniquePrefix('multi-host');
  const redisUrl = `redis://${host('redis').address}:6379`;
  const shared = {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    ...s3.env('multi'),
    METRICS_PORT: '0',
    API_ALLOW_PRIVATE_FETCH: 'true',
    API_SYNC_WAIT_MS: '0',
    WEBHOOK_SECRET: 'multi-secret',
    DEFAULT_COOLDOWN_S: '0',
    DUPLICATE_WINDOW_S: '0',
    DEFAULT_PENDING_CAP: '1000',
    ENGINE_THREADS: '1',
  };
  services = await createServices(parseConfig(shared), createLogger('silent'), { prefix });
  const created = await createKeyWithCredits(services, new ApiKeyStore(services.redis, prefix), {
    name: 'multi-host',
    credits: 10_000,
  });
  key = created.key;
  member = keyMember(created.record.id, created.record.name);
  apiBase = `http://${host('api').address}:8080`;
  // One data folder for the workers: the second finds the built-in networks the first converted.
  const on = (name: string, dataDir: string, env: Record<string, string>) =>
    startEasel(
      { ...shared, DATA_DIR: join(dir, dataDir), ARTIFACTS_DIR: join(dir, name, 'artifacts'), ...env },
      { command: [...host(name).exec, 'node', 'bin/easel.js', 'start'] },
    );
  const api = on('api', 'api', {
    ROLES: 'api,deliver',
    API_HOST: '0.0.0.0',
    API_PORT: '8080',
    API_PUBLIC_URL: apiBase,
  });
  const worker1 = on('worker1', 'workers', { ROLES: 'worker' });
  processes.push(api, worker1);
  await worker1.started(['worker'], 150_000);
  const worker2 = on('worker2', 'workers', { ROLES: 'worker' });
  processes.push(worker2);
  await Promise.all([api.started(['api', 'deliver']), worker2.started(['worker'], 90_000)]);
  await until(async () => (await services.workers.online()).length === 2, 30_000);
}, 300_000);

afterAll(async () => {
  // Every process, then every namespace and link, whatever state the test left them in.
  for (const child of [...processes.map((p) => p.child), redis, proxy]) child?.kill('SIGKILL');
  await services?.close().catch(() => undefined);
  await hooks?.close();
  await s3?.stop();
  lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Sends one job until the API accepts it; the Idempotency-Key makes a retry the same job. */
async function submit(label: string): Promise<string> {
  const sent = { label, start: Date.now(), end: 0 };
  submissions.push(sent);
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const response = await fetch(`${apiBase}/v1/text2img`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${key}`,
        'idempotency-key': label,
      },
      body: JSON.stringify({ prompt: `a red circle, ${label}`, num_inference_steps: 8, webhook: hooks.url }),
      signal: AbortSignal.timeout(20_000),
    }).catch(() => undefined);
    const answer = (await response?.json().catch(() => undefined)) as
      | { id?: string; status?: string }
      | undefined;
    if (response?.ok && answer?.id !== undefined && answer.status !== 'error') {
      sent.end = Date.now();
      return answer.id;
    }
    retried += 1;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the API never accepted ${label}`);
}

/** Four at a time, `pauseMs` between rounds (so a fault can land while they arrive). */
async function submitAll(phase: string, n: number, pauseMs = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 4) {
    ids.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(4, n - i) }, (_, j) => submit(`${phase}-${i + j}`)),
      )),
    );
    if (pauseMs > 0) await sleep(pauseMs);
  }
  return ids;
}

const deliveriesOf = (jobId: string) => hooks.calls.filter((c) => c.id === jobId).length;

/** The jobs of `ids` not delivered, with the end of every process's log: what a timeout needs. */
function notDelivered(when: string, ids: string[]): Error {
  const missing = ids.filter((id) => deliveriesOf(id) === 0);
  return new Error(
    `not delivered ${when}: ${missing.join(', ')}\n${processes.map((p) => p.log().slice(-3000)).join('\n---\n')}`,
  );
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(unavailable !== undefined)('five hosts in network namespaces under network faults', () => {
  it('delivers and charges each of 50 jobs exactly once through a worker cut off mid-render, a Redis restart and a slow, lossy Redis link', async () => {
    const worker1 = lab.hosts.worker1;
    const redisHost = lab.hosts.redis;
    if (!worker1 || !redisHost) throw new Error('the lab lacks a host');
    const started = Date.now();

    // (a) Both workers busy with a queue behind them, then worker 1's cable is pulled for longer
    // than BullMQ's lock, so its job is taken over, and plugged back in.
    const linkDownIds = await submitAll('link-down', JOBS.linkDown);
    // Both rendering at this moment (one job each): the cut lands in the middle of worker 1's render.
    await until(async () => (await services.queues.generate.getActiveCount()) >= 2, 60_000);
    const cut = Date.now();
    lab.run(['ip', 'link', 'set', worker1.hostLink, 'down']);

    // (b) Meanwhile Redis dies (SIGKILL, as a crashed host) while jobs arrive, and comes back from
    // its AOF.
    await sleep(5000);
    const restartSubmissions = submitAll('redis-restart', JOBS.redisRestart, 250);
    await sleep(300);
    const down = Date.now();
    redis.kill('SIGKILL');
    await new Promise((resolve) => redis.once('exit', resolve));
    await sleep(1000);
    await startRedis();
    const back = Date.now();
    figures.redisDownMs = back - down;
    const restartIds = await restartSubmissions;
    // Requests the outage caught: sent before Redis was back, answered after it died.
    figures.submissionsDuringOutage = submissions.filter((x) => x.start < back && x.end > down).length;
    await sleep(Math.max(0, 35_000 - (Date.now() - cut)));
    lab.run(['ip', 'link', 'set', worker1.hostLink, 'up']);
    figures.linkDownMs = Date.now() - cut;

    // (c) 200 ms added to everything Redis sends, and 5% of its packets dropped.
    proxy.stdin?.write('200\n');
    lab.run(['nft', 'add', 'table', 'inet', 'easel_lab'], redisHost.netns);
    lab.run(
      ['nft', 'add', 'chain', 'inet', 'easel_lab', 'out', '{ type filter hook output priority 0; }'],
      redisHost.netns,
    );
    lab.run(
      [
        'nft',
        'add',
        'rule',
        'inet',
        'easel_lab',
        'out',
        'oifname',
        redisHost.device,
        'numgen',
        'random',
        'mod',
        '100',
        '<',
        '5',
        'drop',
      ],
      redisHost.netns,
    );
    const slowStarted = Date.now();
    const slowIds = await submitAll('slow-link', JOBS.slowLink);
    await until(async () => slowIds.every((id) => deliveriesOf(id) > 0), 120_000).catch(() => {
      throw notDelivered('over the slow link', slowIds);
    });
    figures.slowLinkPhaseMs = Date.now() - slowStarted;
    lab.run(['nft', 'delete', 'table', 'inet', 'easel_lab'], redisHost.netns);
    proxy.stdin?.write('0\n');

    const all = [...linkDownIds, ...restartIds, ...slowIds];
    expect(new Set(all).size).toBe(50);
    await until(async () => all.every((id) => deliveriesOf(id) > 0), 120_000).catch(() => {
      throw notDelivered('in the end', all);
    });
    // Time for a duplicate to arrive, if one were coming.
    await sleep(3000);
    figures.totalMs = Date.now() - started;

    for (const id of all) expect(deliveriesOf(id), id).toBe(1);
    const calls = hooks.calls.filter((c) => all.includes(String(c.id)));
    expect(calls.map((c) => c.status)).toEqual(all.map(() => 'success'));

    const history = await services.credits.history(member, 1000);
    for (const id of all) {
      const entries = history.filter((e) => e.jobId === id);
      expect(entries.filter((e) => e.kind === 'reserve').length, id).toBe(1);
      expect(entries.filter((e) => e.kind === 'commit').length, id).toBe(1);
      expect(entries.filter((e) => e.kind === 'refund').length, id).toBe(0);
    }
    expect(await services.credits.pending(member, 1000)).toEqual([]);
    expect((await services.credits.balance(member)).reserved).toBe(0);

    for (const call of calls) {
      for (const url of call.output as string[]) {
        const image = await fetch(url);
        expect(image.status, url).toBe(200);
        expect(
          Buffer.from(await image.arrayBuffer())
            .subarray(1, 4)
            .toString(),
        ).toBe('PNG');
      }
    }

    let reRun = 0;
    for (const id of all) {
      const job = await services.queues.generate.getJob(id);
      if ((job?.attemptsStarted ?? 0) > 1 || (job?.stalledCounter ?? 0) > 0) reRun += 1;
    }
    figures.jobsRenderedAgain = reRun;
    figures.submissionsRetried = retried;
    console.log(`multi-host: ${JSON.stringify(figures)}`);
    expect(await tcpAnswers(redisHost.address, 6379)).toBe(true);
  }, 420_000);
});
