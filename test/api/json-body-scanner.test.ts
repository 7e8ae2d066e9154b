import { describe, expect, it } from 'vitest';
import { JsonBodyScanner, type ScanLimits } from '../../src/api/json-body-scanner.ts';

const LIMITS: ScanLimits = {
  maxDepth: 64,
  maxOutsideBytes: 64 * 1024,
  maxStringBytes: 64 * 1024,
  largeValueFields: new Set(['init_image', 'mask_image']),
  maxParsedBytes: 1024 * 1024,
};

/** Scans `text` cut into chunks of `size` bytes (every boundary gets its turn in the tests below). */
function scan(text: string, size = Number.POSITIVE_INFINITY, limits = LIMITS) {
  const bytes = Buffer.from(text);
  const scanner = new JsonBodyScanner(limits);
  let problem: string | undefined;
  for (let i = 0; i < bytes.length && !problem; i += Math.min(size, bytes.length)) {
    problem = scanner.write(bytes.subarray(i, i + size));
  }
  return { problem, key: scanner.key };
}

describe('JsonBodyScanner', () => {
  it('lets ordinary bodies through and picks up the top-level key', () => {
    const body = JSON.stringify({ prompt: 'a "quoted" \\ lighthouse', key: 'esk_abc', width: 512 });
    expect(scan(body)).toEqual({ problem: undefined, key: 'esk_abc' });
  });

  it('finds the key wherever the chunks are cut, escapes included', () => {
    const body = '{ "prompt" : "say \\"key\\": no", "nested": {"key": "inner"}, "key" : "esk_\\u0041\\"b" }';
    for (let size = 1; size <= body.length; size++) {
      expect(scan(body, size), `chunks of ${size}`).toEqual({ problem: undefined, key: 'esk_A"b' });
    }
  });

  it('ignores a key that is not a top-level string', () => {
    expect(scan('{"a": {"key": "inner"}}').key).toBeUndefined();
    expect(scan('[{"key": "in a list"}]').key).toBeUndefined();
    expect(scan('{"key": 42, "x": "esk_not"}').key).toBeUndefined();
    expect(scan('{"prompt": "key", "b": "esk_not"}').key).toBeUndefined();
    expect(scan('{"key": ["esk_in_list"]}').key).toBeUndefined();
  });

  it('keeps the first key of a body that names two', () => {
    expect(scan('{"key": "first", "key": "second"}').key).toBe('first');
  });

  it('refuses nesting deeper than the limit as soon as it is read', () => {
    expect(scan(`${'['.repeat(64)}${']'.repeat(64)}`).problem).toBeUndefined();
    expect(scan(`${'['.repeat(65)}`).problem).toBe('too-deep');
    expect(scan(`{"a":${'{"b":'.repeat(70)}`).problem).toBe('too-deep');
    // Brackets inside strings are text.
    expect(scan(`{"a": "${'['.repeat(10_000)}"}`).problem).toBeUndefined();
  });

  it('refuses more bytes outside strings than the limit, whitespace and numbers included', () => {
    const small: ScanLimits = { ...LIMITS, maxOutsideBytes: 100 };
    expect(scan(`[${'1,'.repeat(60)}1]`, 7, small).problem).toBe('too-complex');
    expect(scan(`{"a":${' '.repeat(200)}1}`, 7, small).problem).toBe('too-complex');
    expect(scan(`{"a": "${'x'.repeat(10_000)}"}`, 7, small).problem).toBeUndefined();
  });

  it('refuses fields named __proto__ or constructor, also when escaped', () => {
    expect(scan('{"__proto__": {"admin": true}}').problem).toBe('reserved-name');
    expect(scan('{"a": {"constructor": {"prototype": {}}}}').problem).toBe('reserved-name');
    expect(scan('{"\\u005f_proto__": 1}', 3).problem).toBe('reserved-name');
    expect(scan('{"prompt": "__proto__"}').problem).toBeUndefined();
  });

  /** The fastest of a few runs: the first ones include the JIT's warm-up. */
  function bestMs(run: () => void): number {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 4; i++) {
      const started = performance.now();
      run();
      best = Math.min(best, performance.now() - started);
    }
    return best;
  }

  it('scans a 20 MB base64 string in big strides', () => {
    const body = Buffer.from(`{"key":"esk_x","init_image":"${'QUJD'.repeat(5 * 1024 * 1024)}"}`);
    let key: string | undefined;
    const ms = bestMs(() => {
      const scanner = new JsonBodyScanner(LIMITS);
      for (let i = 0; i < body.length; i += 65_536) scanner.write(body.subarray(i, i + 65_536));
      key = scanner.key;
    });
    expect(key).toBe('esk_x');
    // A byte-by-byte loop takes ~40 ms on the 2-core CI machine; indexOf strides take a few.
    expect(ms).toBeLessThan(25);
  });

  it('stays linear over thousands of short strings in one chunk', () => {
    // One backslash at the end: searching for it afresh from each string would rescan the chunk.
    const body = Buffer.from(`[${'"ab",'.repeat(12_000)}"\\n"]`);
    const ms = bestMs(() => {
      expect(new JsonBodyScanner({ ...LIMITS, maxOutsideBytes: 1 << 20 }).write(body)).toBeUndefined();
    });
    expect(ms).toBeLessThan(20);
  });
});
