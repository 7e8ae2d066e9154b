import type { StateKeys } from '../state/keys.ts';
import type { ScriptedRedis } from '../state/scripts.ts';

/**
 * ETAs from moving averages of processing time per model and size (kept in Redis, so every
 * process agrees). Jobs ahead run on as many slots as are busy now: a backed-up queue keeps every
 * worker busy, so the active count is the number of slots.
 */
const SAMPLE_WEIGHT = 0.2;

export function durationField(model: string, width: number, height: number): string {
  return `${model}:${width}x${height}`;
}

export interface EtaInput {
  /** 1-based place among waiting jobs (0 when running). */
  position: number;
  active: number;
  /** Average ms of this job's model and size, if known. */
  ownMs?: number;
  /** Average ms of any job, if known. */
  anyMs?: number;
}

export function estimateSeconds(input: EtaInput): number | undefined {
  const own = input.ownMs ?? input.anyMs;
  if (own === undefined) return undefined;
  const ahead = Math.max(0, input.position - 1) + input.active;
  const slots = Math.max(1, input.active);
  const waitMs = Math.ceil(ahead / slots) * (input.anyMs ?? own);
  return Math.max(1, Math.round((waitMs + (input.position > 0 ? own : own / 2)) / 1000));
}

/** Averages move slowly; reading them at most this often keeps admission at one round trip. */
const CACHE_MS = 5000;

export class DurationStats {
  private readonly cache = new Map<string, { at: number; value: { ownMs?: number; anyMs?: number } }>();
  private readonly refreshing = new Set<string>();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: StateKeys,
  ) {}

  /** Reads through the cache; `maxAgeMs` 0 reads Redis (system load is asked rarely, and wants now). */
  async averages(field: string, maxAgeMs = CACHE_MS): Promise<{ ownMs?: number; anyMs?: number }> {
    const cached = this.cache.get(field);
    if (cached && Date.now() - cached.at < maxAgeMs) return cached.value;
    const [own, any] = await this.redis.hmget(this.keys.durations, field, '*');
    const value = { ownMs: own ? Number(own) : undefined, anyMs: any ? Number(any) : undefined };
    if (this.cache.size > 1000) this.cache.clear();
    // Nothing measured yet: ask again next time rather than report no ETA for five seconds.
    if (value.anyMs !== undefined) this.cache.set(field, { at: Date.now(), value });
    return value;
  }

  /**
   * The averages as last read, without waiting (undefined until read once); starts a refresh when
   * they are older than the cache period.
   */
  cached(field: string): { ownMs?: number; anyMs?: number } {
    for (const name of [field, '*']) {
      const entry = this.cache.get(name);
      if ((!entry || Date.now() - entry.at >= CACHE_MS) && !this.refreshing.has(name)) {
        this.refreshing.add(name);
        void this.averages(name)
          .catch(() => undefined)
          .finally(() => this.refreshing.delete(name));
      }
    }
    // A size never rendered yet borrows the overall average.
    return this.cache.get(field)?.value ?? this.cache.get('*')?.value ?? {};
  }

  async all(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.durations);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  async record(field: string, ms: number): Promise<void> {
    await this.redis.easelRecordDuration(this.keys.durations, field, Math.round(ms), SAMPLE_WEIGHT);
  }
}
