import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.ts';

/**
 * Which render workers serve this deployment, and which models each has installed. Every worker
 * writes a line into one hash under the deployment's prefix, on the deployment's own database, and
 * rewrites it every few seconds; a line not rewritten for STALE_MS is a worker that died.
 *
 * BullMQ's own count (`getWorkersCount`) reads CLIENT LIST, which spans every database of the Redis
 * server and knows only connection names: a worker of another deployment with the same prefix on
 * another database counts as one of ours. Admission also needs to know the installed models, which
 * BullMQ does not track at all.
 */
export interface WorkerPresence {
  id: string;
  host: string;
  pid: number;
  /** Model ids this worker can render; null when it does not say (it is asked for any model). */
  models: string[] | null;
  /** ms since epoch of the last heartbeat. */
  seenAt: number;
}

const HEARTBEAT_MS = 5_000;
/** Three missed heartbeats. */
export const STALE_MS = 3 * HEARTBEAT_MS;

export function workersKey(prefix: string): string {
  return `${prefix}:workers`;
}

/** Reads the live workers (and forgets dead ones). */
export async function onlineWorkers(
  redis: Redis,
  prefix: string,
  now = Date.now(),
): Promise<WorkerPresence[]> {
  const lines = await redis.hgetall(workersKey(prefix));
  const live: WorkerPresence[] = [];
  const dead: string[] = [];
  for (const [id, line] of Object.entries(lines)) {
    const presence = parse(line);
    if (presence && now - presence.seenAt <= STALE_MS) live.push(presence);
    else dead.push(id);
  }
  if (dead.length > 0) await redis.hdel(workersKey(prefix), ...dead).catch(() => undefined);
  return live;
}

function parse(line: string): WorkerPresence | undefined {
  try {
    const value = JSON.parse(line) as WorkerPresence;
    return typeof value.seenAt === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

export interface PresenceOptions {
  redis: Redis;
  prefix: string;
  /** Read at every heartbeat, so a model installed while the worker runs is announced. */
  models?: () => string[];
  logger: Logger;
  clock?: () => number;
}

/** Announces a worker until `stop()`, which removes its line at once. */
export async function announceWorker(
  options: PresenceOptions,
): Promise<{ id: string; stop(): Promise<void> }> {
  const { redis, prefix, logger } = options;
  const clock = options.clock ?? Date.now;
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const beat = () =>
    redis.hset(
      workersKey(prefix),
      id,
      JSON.stringify({
        id,
        host: hostname(),
        pid: process.pid,
        models: options.models ? options.models() : null,
        seenAt: clock(),
      } satisfies WorkerPresence),
    );
  await beat();
  const timer = setInterval(() => {
    void beat().catch((err: unknown) => logger.warn({ err }, 'worker heartbeat failed'));
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    id,
    async stop() {
      clearInterval(timer);
      await redis.hdel(workersKey(prefix), id).catch(() => undefined);
    },
  };
}

/**
 * Whether a model can be rendered by some live worker, from a snapshot at most `maxAgeMs` old (so
 * admission reads Redis once every few seconds, not once a request). Undefined: yes, or unknown
 * (no worker online yet: the job waits for one). Otherwise the reason, for the member.
 */
export class ModelAvailability {
  private snapshot: { at: number; workers: WorkerPresence[] } | undefined;
  private loading: Promise<WorkerPresence[]> | undefined;

  constructor(
    private readonly read: () => Promise<WorkerPresence[]>,
    private readonly maxAgeMs = 2_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The answer at once while the snapshot is fresh (admission judges a burst in one script run only
   * when its requests reach it in the same tick), else once the workers are read.
   */
  problem(model: string): string | undefined | Promise<string | undefined> {
    const now = this.clock();
    if (this.snapshot && now - this.snapshot.at < this.maxAgeMs)
      return problemWith(this.snapshot.workers, model);
    this.loading ??= this.read()
      .then((workers) => {
        this.snapshot = { at: now, workers };
        return workers;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading.then(
      (workers) => problemWith(workers, model),
      // Redis trouble is admission's to report; this check never refuses on a guess.
      () => undefined,
    );
  }
}

function problemWith(workers: WorkerPresence[], model: string): string | undefined {
  if (workers.length === 0) return undefined;
  if (workers.some((w) => w.models === null || w.models.includes(model))) return undefined;
  const installed = [...new Set(workers.flatMap((w) => w.models ?? []))].sort();
  return (
    `${model} is not installed on any render worker` +
    (installed.length > 0 ? ` (they have ${installed.join(', ')})` : '') +
    `; pick another model, or ask the operator to install it (easel models download)`
  );
}
