import type { Redis } from 'ioredis';

/**
 * Exactly-once side effects on top of at-least-once delivery: a post that succeeded before a crash
 * is not repeated when the delivery job runs again.
 *
 * A step is claimed with SET NX (a lease, so a second run of the same delivery at the same time,
 * after a stall, waits instead of posting too) and marked done after its effect succeeded. The
 * one gap left is a crash between the platform accepting the post and the marker being written;
 * platforms' own idempotency (Discord's nonce) covers that where they have one.
 */
export type Once = <T>(key: string, effect: () => Promise<T>) => Promise<T | undefined>;

/** Thrown (and retried by BullMQ) when another run holds the step right now. */
export class StepInProgressError extends Error {
  override readonly name = 'StepInProgressError';
}

const DONE_TTL_S = 7 * 86_400;
const LEASE_MS = 120_000;

export interface StepRecord<T> {
  /** False when the step was done before; `value` is then what the first run stored. */
  ran: boolean;
  value: T | undefined;
}

/**
 * Runs `effect` once per (jobId, step). Its return value (a message id, a thread id) is stored and
 * handed back to later runs, so the next steps can use it.
 */
export async function runOnce<T>(
  redis: Redis,
  prefix: string,
  jobId: string,
  step: string,
  effect: () => Promise<T>,
): Promise<StepRecord<T>> {
  const done = `${prefix}:delivered:${jobId}:${step}`;
  const lease = `${done}:lease`;
  const previous = await redis.get(done);
  if (previous !== null) return { ran: false, value: parseStored<T>(previous) };
  const claimed = await redis.set(lease, String(process.pid), 'PX', LEASE_MS, 'NX');
  if (claimed !== 'OK')
    throw new StepInProgressError(`delivery step ${step} of ${jobId} is running elsewhere`);
  try {
    // Checked again under the lease: the holder before us may have finished in between.
    const finished = await redis.get(done);
    if (finished !== null) return { ran: false, value: parseStored<T>(finished) };
    const value = await effect();
    await redis.set(done, JSON.stringify(value ?? null), 'EX', DONE_TTL_S);
    return { ran: true, value };
  } finally {
    await redis.del(lease).catch(() => undefined);
  }
}

/**
 * The `Once` shape the platform deliverers take: keys are theirs, e.g. `${jobId}:post-images`. It
 * answers what the effect returned, on the run that did it and on every later one.
 */
export function createOnce(redis: Redis, prefix: string): Once {
  return async (key, effect) => {
    const split = key.indexOf(':');
    const jobId = split === -1 ? key : key.slice(0, split);
    const step = split === -1 ? 'done' : key.slice(split + 1);
    return (await runOnce(redis, prefix, jobId, step, effect)).value;
  };
}

function parseStored<T>(text: string): T | undefined {
  try {
    return (JSON.parse(text) ?? undefined) as T | undefined;
  } catch {
    return undefined;
  }
}
