import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyWithCredits, keyMember } from '../../src/api/key-admin.ts';
import { ApiKeyStore } from '../../src/api/key-store.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { runDoctorChecks } from '../../src/doctor/checks.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { createRedis } from '../../src/redis/connections.ts';
import { freePort } from '../../src/redis/private-redis-server.ts';
import {
  type EaselProcess,
  startEasel,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/easel-process.ts';
import {
  type LocalCluster,
  NODE_TIMEOUT_MS,
  redisCliOnPath,
  startRedisCluster,
} from '../support/redis-cluster.ts';
import { until } from '../support/until.ts';

/**
 * A real Redis Cluster (three primaries, a replica each, AOF with appendfsync everysec) under a
 * real `easel start` (API, worker, delivery): every key in one slot, and a primary killed in the
 * middle of a burst of requests while its replica takes over.
 */
const PREFIX = '{easel-cluster}';
const describeWithCluster = redisCliOnPath() ? describe : describe.skip;

let cluster: LocalCluster;
let dir: string;
let services: Services;
let hooks: WebhookReceiver;
let easel: EaselProcess;
let key: string;
let member: MemberRef;
let apiBase: string;

beforeAll(async () => {
  if (!redisCliOnPath()) return;
  dir = await mkdtemp(join(tmpdir(), 'easel-cluster-roles-'));
  cluster = await startRedisCluster();
  hooks = await startWebhookReceiver();
  const env = {
    REDIS_URL: cluster.url,
    QUEUE_PREFIX: PREFIX,
    DATA_DIR: dir,
    ARTIFACTS_DIR: join(dir, 'artifacts'),
    METRICS_PORT: '0',
    API_ALLOW_PRIVATE_FETCH: 'true',
    API_SYNC_WAIT_MS: '0',
    WEBHOOK_SECRET: 'cluster-secret',
    DEFAULT_COOLDOWN_S: '0',
    DUPLICATE_WINDOW_S: '0',
    DEFAULT_PENDING_CAP: '1000',
  };
  services = await createServices(parseConfig(env), createLogger('silent'), { prefix: PREFIX });
  const created = await createKeyWithCredits(services, new ApiKeyStore(services.redis, PREFIX), {
    name: 'cluster',
    credits: 10_000,
  });
  key = created.key;
  member = keyMember(created.record.id, created.record.name);
  const port = await freePort();
  apiBase = `http://127.0.0.1:${port}`;
  easel = startEasel({ ...env, API_PORT: String(port), API_PUBLIC_URL: apiBase });
  await easel.started(['api', 'worker', 'deliver']);
}, 120_000);

afterAll(async () => {
  await easel?.stop();
  await services?.close();
  await hooks?.close();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function submit(prompt: string): Promise<{ id?: string; status: number }> {
  const response = await fetch(`${apiBase}/v1/text2img`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ prompt, num_inference_steps: 2, webhook: hooks.url }),
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
  if (response === undefined) return { status: 0 };
  const answer = (await response.json().catch(() => ({}))) as { id?: string; status?: string };
  return response.ok && answer.status !== 'error' && answer.id !== undefined
    ? { id: answer.id, status: response.status }
    : { status: response.status };
}

function deliveriesOf(jobId: string): number {
  return hooks.calls.filter((c) => c.id === jobId).length;
}

/** Every key on every primary, with the port it lives on. */
async function allKeys(): Promise<{ key: string; port: number }[]> {
  const found: { key: string; port: number }[] = [];
  for (const node of cluster.nodes) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) continue;
    const { Redis } = await import('ioredis');
    const redis = new Redis({ port: node.port, host: '127.0.0.1', lazyConnect: true });
    redis.on('error', () => {});
    await redis.connect();
    const role = (await redis.info('replication')).includes('role:master');
    if (role) for (const k of await redis.keys('*')) found.push({ key: k, port: node.port });
    redis.disconnect();
  }
  return found;
}

describeWithCluster('easel on a Redis Cluster', () => {
  it('keeps every key the API, worker and delivery write, and every script’s keys, in one slot', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const { id } = await submit(`a red circle number ${i}`);
      expect(id).toBeDefined();
      ids.push(String(id));
    }
    await until(async () => ids.every((id) => deliveriesOf(id) === 1), 60_000);
    const keys = await allKeys();
    expect(keys.length).toBeGreaterThan(10);
    // Nothing outside the deployment's hash tag, and all of it on the primary that owns the tag's slot.
    expect(keys.filter((k) => !k.key.startsWith(PREFIX))).toEqual([]);
    const home = await cluster.primaryFor(PREFIX);
    expect([...new Set(keys.map((k) => k.port))]).toEqual([home]);
  }, 90_000);

  it('loses at most the last moment of writes when a primary dies mid-burst, and every acknowledged job that survived is delivered and charged exactly once', async () => {
    const home = await cluster.primaryFor(PREFIX);
    const [replica] = await cluster.replicasOf(home);
    expect(replica).toBeDefined();
    const acked: { id: string; at: number }[] = [];
    const refused: { status: number; at: number }[] = [];
    let killedAt = 0;
    const TOTAL = 60;
    let next = 0;
    const sender = async () => {
      while (next < TOTAL) {
        const n = next++;
        if (n === 20) {
          killedAt = Date.now();
          cluster.kill(home);
        }
        const sentAt = Date.now();
        const outcome = await submit(`a blue square number ${n}`);
        if (outcome.id !== undefined) acked.push({ id: outcome.id, at: sentAt });
        else {
          refused.push({ status: outcome.status, at: sentAt });
          // Refused while the slot has no primary: a client would retry after a moment.
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    // Beside the jobs, a counter incremented as fast as one connection goes: its last acknowledged
    // value against what the promoted replica holds counts the writes the failover lost.
    const probe = createRedis(cluster.url, 'worker', 'failover-probe');
    const probeKey = `${PREFIX}:failover-probe`;
    let probeAcked = 0;
    let probing = true;
    const prober = (async () => {
      while (probing) {
        probeAcked = await probe.incr(probeKey).catch(() => probeAcked);
      }
    })();
    await Promise.all(Array.from({ length: 4 }, sender));
    await cluster.healthy(30_000);
    probing = false;
    await prober;
    const probeKept = Number(await probe.get(probeKey));
    await probe.del(probeKey);
    probe.disconnect();
    const promotedAt = Date.now();
    expect(await cluster.primaryFor(PREFIX)).toBe(replica);

    // Every acknowledged job is either delivered or gone with the writes the failover lost.
    const settled = async () => {
      const views = await Promise.all(
        acked.map((a) => services.jobs.get(a.id).catch(() => 'unknown' as const)),
      );
      return views.every(
        (view, i) => view !== 'unknown' && (view === undefined || deliveriesOf(acked[i]?.id ?? '') > 0),
      );
    };
    await until(settled, 90_000).catch(() => {
      throw new Error(`jobs did not settle; the log:\n${easel.log().slice(-5000)}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const lost = [];
    for (const a of acked)
      if ((await services.jobs.get(a.id)) === undefined && deliveriesOf(a.id) === 0) lost.push(a);
    // Exactly once: no job delivered twice, and none delivered that the client never heard of.
    for (const a of acked) expect(deliveriesOf(a.id)).toBeLessThanOrEqual(1);
    const ackedIds = new Set(acked.map((a) => a.id));
    const burstCalls = hooks.calls.filter((c) => ackedIds.has(String(c.id)));
    expect(burstCalls.every((c) => c.status === 'success')).toBe(true);

    // Charged once: one reserve and one commit per delivered job, no open reservation.
    const history = await services.credits.history(member, 1000);
    const entriesOf = (jobId: string, kind: string) =>
      history.filter((e) => e.jobId === jobId && e.kind === kind).length;
    for (const a of acked) {
      const delivered = deliveriesOf(a.id) === 1;
      expect(entriesOf(a.id, 'reserve')).toBe(delivered ? 1 : 0);
      expect(entriesOf(a.id, 'commit')).toBe(delivered ? 1 : 0);
      expect(entriesOf(a.id, 'refund')).toBe(0);
    }
    expect(await services.credits.pending(member, 1000)).toEqual([]);
    expect((await services.credits.balance(member)).reserved).toBe(0);

    // What appendfsync everysec allows a single server to lose is the last second of writes; a
    // failover loses what had not reached the replica, which asynchronous replication keeps to
    // less than that. Every lost job was acknowledged in the second before the kill.
    for (const a of lost) expect(killedAt - a.at).toBeLessThan(1000);
    expect(probeKept).toBeGreaterThan(0);
    const figures = {
      acknowledged: acked.length,
      refusedDuringFailover: refused.length,
      lost: lost.length,
      counterWritesAcknowledged: probeAcked,
      counterWritesLost: Math.max(0, probeAcked - probeKept),
      promotionMs: promotedAt - killedAt,
      nodeTimeoutMs: NODE_TIMEOUT_MS,
    };
    console.log(`redis cluster failover: ${JSON.stringify(figures)}`);
    expect(acked.length + refused.length).toBe(TOTAL);
  }, 180_000);

  it('easel doctor reads the cluster’s settings through its first node, and hides the password', async () => {
    const results = await runDoctorChecks({ REDIS_URL: cluster.url });
    expect(results.find((r) => r.name === 'redis')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^reachable at redis\+cluster:\/\/.*version \d+\.\d+/),
    });
    expect(results.find((r) => r.name === 'redis maxmemory-policy')).toMatchObject({ status: 'ok' });
    const port = cluster.nodes[0]?.port;
    const refused = await runDoctorChecks({ REDIS_URL: `redis+cluster://easel:hunter2@127.0.0.1:${port}` });
    const redis = refused.find((r) => r.name === 'redis');
    expect(redis?.detail).toContain('easel:***@');
    expect(redis?.detail).not.toContain('hunter2');
  });

  it('refuses a QUEUE_PREFIX without a hash tag on a cluster, saying why', () => {
    expect(() => parseConfig({ REDIS_URL: cluster.url, QUEUE_PREFIX: 'easel' })).toThrow(
      /QUEUE_PREFIX: a Redis Cluster needs a hash-tagged prefix such as \{easel\}/,
    );
    expect(() => parseConfig({ REDIS_URL: 'redis+cluster://127.0.0.1' })).toThrow(
      /"127.0.0.1" is not host:port/,
    );
  });
});
