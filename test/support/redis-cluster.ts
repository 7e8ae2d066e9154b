import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, tcpAnswers } from '../../src/redis/private-redis-server.ts';

/**
 * A real Redis Cluster on this machine: `primaries` redis-server processes started with
 * `--cluster-enabled yes`, one replica each, joined by `redis-cli --cluster create`. Persistence is
 * production's (AOF, `appendfsync everysec`), so a failover test loses what a real one would.
 * cluster-node-timeout is 2 s, so a dead primary's replica takes over within a few seconds.
 */
export interface ClusterNode {
  port: number;
  child: ChildProcess;
}

export interface LocalCluster {
  /** REDIS_URL for easel: the primaries as seed nodes. */
  url: string;
  nodes: ClusterNode[];
  /** The port of the primary serving `key`'s slot now. */
  primaryFor(key: string): Promise<number>;
  /** The ports of the replicas of the primary on `port`. */
  replicasOf(port: number): Promise<number[]>;
  /** SIGKILL, as a machine that loses power. */
  kill(port: number): void;
  /** Resolves when every live node agrees that the cluster is up. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const NODE_TIMEOUT_MS = 2000;

export function redisCliOnPath(): boolean {
  return spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * A port for a cluster node: redis-server also listens on port + 10000 (the cluster bus), and in
 * this machine's ephemeral range that one may be taken by someone's outgoing connection, so both
 * are tried before the node is started on them.
 */
async function freeNodePort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 > 65_535) continue;
    const busFree = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port + 10_000, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (busFree) return port;
  }
}

/** Starts one node, on a fresh port each try: a port taken between the check and the bind fails only that try. */
async function startNode(dir: string, tries = 5): Promise<ClusterNode> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < tries; attempt += 1) {
    try {
      return await startNodeOn(await freeNodePort(), dir);
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError;
}

async function startNodeOn(port: number, dir: string): Promise<ClusterNode> {
  const nodeDir = join(dir, String(port));
  mkdirSync(nodeDir, { recursive: true });
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      nodeDir,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(NODE_TIMEOUT_MS),
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Kept until the node answers, so a node that fails says why (its log goes to stdout).
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + 10_000;
  while (!(await tcpAnswers('127.0.0.1', port, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`cluster node on port ${port} did not start:\n${output.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // Drained from now on, so a full pipe never blocks the node.
  child.stdout?.off('data', keep);
  child.stderr?.off('data', keep);
  child.stdout?.resume();
  child.stderr?.resume();
  return { port, child };
}

async function onNode<T>(port: number, run: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

interface NodeLine {
  id: string;
  port: number;
  primary: boolean;
  primaryId: string;
  failed: boolean;
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', address = '', flags = '', primaryId = ''] = line.split(' ');
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        primary: flags.includes('master'),
        primaryId,
        failed: flags.includes('fail'),
      };
    });
}

export async function startRedisCluster(primaries = 3): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'easel-cluster-'));
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(async (node) => {
        if (node.child.exitCode !== null || node.child.signalCode !== null) return;
        const exited = new Promise((resolve) => node.child.once('exit', resolve));
        node.child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < primaries * 2; i += 1) nodes.push(await startNode(dir));
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0)
      throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
  } catch (error) {
    await stop();
    throw error;
  }
  const live = () => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  const topology = async () => {
    for (const node of live()) {
      const text = await onNode(node.port, (r) => r.cluster('NODES') as Promise<string>).catch(
        () => undefined,
      );
      if (text !== undefined) return parseNodes(text);
    }
    throw new Error('no cluster node answers');
  };
  const cluster: LocalCluster = {
    url: `redis+cluster://${nodes
      .slice(0, primaries)
      .map((n) => `127.0.0.1:${n.port}`)
      .join(',')}`,
    nodes,
    async primaryFor(key) {
      const port = live()[0]?.port ?? 0;
      const slot = await onNode(port, (r) => r.cluster('KEYSLOT', key) as Promise<number>);
      const slots = await onNode(port, (r) => r.cluster('SLOTS'));
      const range = slots.find(([from, to]) => slot >= from && slot <= to);
      const primary = range?.[2]?.[1];
      if (primary === undefined) throw new Error(`slot ${slot} is not served`);
      return primary;
    },
    async replicasOf(port) {
      const lines = await topology();
      const primary = lines.find((l) => l.port === port);
      return lines.filter((l) => !l.primary && l.primaryId === primary?.id).map((l) => l.port);
    },
    kill(port) {
      nodes.find((n) => n.port === port)?.child.kill('SIGKILL');
    },
    async healthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          live().map((n) => onNode(n.port, (r) => r.cluster('INFO') as Promise<string>).catch(() => '')),
        );
        const links = await Promise.all(
          live().map((n) => onNode(n.port, (r) => r.info('replication')).catch(() => '')),
        );
        const ok =
          states.every((s) => s.includes('cluster_state:ok')) &&
          links.every((l) => !l.includes('role:slave') || l.includes('master_link_status:up'));
        if (ok) return;
        if (Date.now() > deadline)
          throw new Error(`the cluster did not become healthy:\n${states.join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    stop,
  };
  try {
    await cluster.healthy();
  } catch (error) {
    await stop();
    throw error;
  }
  return cluster;
}
