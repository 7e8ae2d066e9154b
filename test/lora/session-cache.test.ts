import { describe, expect, it } from 'vitest';
import { MemoryBoundedCache } from '../../src/engine/lora/session-cache.ts';

function cache(budget: number) {
  const released: string[] = [];
  const builds: string[] = [];
  const lru = new MemoryBoundedCache<string>(budget, async (value) => {
    released.push(value);
  });
  const get = (key: string, bytes = 10) =>
    lru.use(
      key,
      async () => {
        builds.push(key);
        return { value: `session ${key}`, bytes };
      },
      async (value, cached) => ({ value, cached }),
    );
  return { lru, released, builds, get };
}

describe('the memory-bounded cache of LoRA combination sessions', () => {
  it('builds a combination once and serves it again from the cache', async () => {
    const { get, builds } = cache(100);
    expect(await get('a')).toEqual({ value: 'session a', cached: false });
    expect(await get('a')).toEqual({ value: 'session a', cached: true });
    expect(builds).toEqual(['a']);
  });

  it('releases the least recently used combinations once over budget', async () => {
    const { get, lru, released } = cache(25);
    await get('a');
    await get('b');
    await get('a');
    await get('c');
    expect(released).toEqual(['session b']);
    expect(lru.keys()).toEqual(['a', 'c']);
    expect(lru.heldBytes).toBe(20);
  });

  it('never releases a session in use, and shrinks when it is returned', async () => {
    const { lru, released, get } = cache(5);
    let finish = () => {};
    const running = lru.use(
      'busy',
      async () => ({ value: 'session busy', bytes: 10 }),
      () => new Promise<void>((resolve) => (finish = resolve)),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    await get('other');
    expect(released).toEqual(['session other']);
    expect(lru.keys()).toEqual(['busy']);
    finish();
    await running;
    expect(released).toEqual(['session other', 'session busy']);
    expect(lru.keys()).toEqual([]);
  });

  it('builds once for requests that arrive together, and forgets a build that failed', async () => {
    const { lru, builds, get } = cache(100);
    await Promise.all([get('a'), get('a'), get('a')]);
    expect(builds).toEqual(['a']);
    const failing = () =>
      lru.use(
        'broken',
        async () => {
          throw new Error('merge failed');
        },
        async () => 'never',
      );
    await expect(failing()).rejects.toThrow('merge failed');
    expect(lru.keys()).toEqual(['a']);
    await expect(failing()).rejects.toThrow('merge failed');
  });
});
