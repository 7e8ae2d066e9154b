/**
 * Sessions of LoRA combinations, kept least recently used first and bounded by the memory their
 * weights take: merging and session creation cost seconds, so a member who keeps drawing with the
 * same LoRAs pays them once. A session in use is never released; the cache may run over its budget
 * while one is, and shrinks back when it is returned.
 */
export interface Sized<V> {
  value: V;
  bytes: number;
}

interface Entry<V> {
  pending: Promise<Sized<V>>;
  ready?: Sized<V>;
  users: number;
}

export class MemoryBoundedCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(
    private readonly budgetBytes: number,
    private readonly release: (value: V) => Promise<void>,
  ) {}

  /** Runs `use` with the value of `key`, built (once, however many ask at the same time) if absent. */
  async use<T>(
    key: string,
    build: () => Promise<Sized<V>>,
    use: (value: V, cached: boolean) => Promise<T>,
  ): Promise<T> {
    let entry = this.entries.get(key);
    const cached = entry !== undefined;
    if (entry === undefined) {
      const created: Entry<V> = { pending: build(), users: 0 };
      created.pending.then(
        (ready) => {
          created.ready = ready;
        },
        () => {
          if (this.entries.get(key) === created) this.entries.delete(key);
        },
      );
      entry = created;
    }
    // Map order is recency order: re-inserting makes it the most recent.
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.users += 1;
    try {
      const { value } = await entry.pending;
      entry.ready ??= await entry.pending;
      await this.evict();
      return await use(value, cached);
    } finally {
      entry.users -= 1;
      await this.evict();
    }
  }

  /** Bytes held by built entries. */
  get heldBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.ready?.bytes ?? 0;
    return total;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  async clear(): Promise<void> {
    const ready = [...this.entries.values()].flatMap((e) => (e.ready ? [e.ready.value] : []));
    this.entries.clear();
    await Promise.all(ready.map((value) => this.release(value)));
  }

  private async evict(): Promise<void> {
    let held = this.heldBytes;
    for (const [key, entry] of this.entries) {
      if (held <= this.budgetBytes) return;
      if (entry.users > 0 || entry.ready === undefined) continue;
      this.entries.delete(key);
      held -= entry.ready.bytes;
      await this.release(entry.ready.value);
    }
  }
}
