import { describe, expect, it } from 'vitest';
import { JsonBodyScanner, type ScanLimits } from '../../src/api/json-body-scanner.ts';
import { heldItem, heldValue, LARGE_VALUE_PLACEHOLDER } from '../../src/api/large-body-values.ts';

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

describe('JsonBodyScanner with long strings', () => {
  /** Small limits, so that every cut of the body can be tried. */
  const TINY: ScanLimits = { ...LIMITS, maxStringBytes: 16, maxParsedBytes: 4096 };

  /** Scans `body` cut at the given offsets. */
  function scanCut(body: string, cuts: number[], limits = TINY) {
    const bytes = Buffer.from(body);
    const scanner = new JsonBodyScanner(limits);
    let problem: string | undefined;
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      // Each chunk a buffer of its own, as a request stream delivers them.
      problem ??= scanner.write(Buffer.from(bytes.subarray(from, to)));
      from = to;
    }
    const held = scanner.largeValues.get('init_image');
    return {
      problem,
      field: scanner.tooLongField,
      parsed: problem ? undefined : (JSON.parse(scanner.parsedText()) as Record<string, unknown>),
      held: held && Buffer.concat(held.chunks),
      heldLength: held?.length,
    };
  }

  const escaped = String.raw`data:image\/png;base64,QUJD\nREVG\r\n\"\\\u002b\u00e9\ud83e\udd80\udc00x`;
  const body = `{"key":"esk_a","init_image":"${escaped}","prompt":"a cat"}`;
  const value = JSON.parse(`"${escaped}"`) as string;

  it('holds a long image value aside, unescaped, wherever the body is cut', () => {
    const expected = Buffer.from(value);
    const start = body.indexOf('"data:') - 2;
    const end = body.indexOf('","prompt"') + 3;
    for (let cut = start; cut <= end; cut++) {
      for (const second of [cut + 1, cut + 5, end + 1]) {
        const result = scanCut(body, second > cut && second < body.length ? [cut, second] : [cut]);
        expect(result.problem, `cut at ${cut}, ${second}`).toBeUndefined();
        expect(result.parsed).toEqual({ key: 'esk_a', init_image: LARGE_VALUE_PLACEHOLDER, prompt: 'a cat' });
        expect(result.held?.equals(expected), `cut at ${cut}, ${second}`).toBe(true);
        expect(result.heldLength).toBe(expected.length);
      }
    }
  });

  it('holds it aside in chunks of every size, one byte included', () => {
    for (let size = 1; size <= body.length; size++) {
      const cuts: number[] = [];
      for (let at = size; at < body.length; at += size) cuts.push(at);
      const result = scanCut(body, cuts);
      expect(result.held?.toString(), `chunks of ${size}`).toBe(Buffer.from(value).toString());
    }
  });

  it('lets a short image value through to the parse untouched', () => {
    const result = scanCut('{"init_image":"a\\/b\\nc"}', [5, 17]);
    expect(result.parsed).toEqual({ init_image: 'a/b\nc' });
    expect(result.held).toBeUndefined();
  });

  it('lets a later duplicate of the field win, as JSON.parse does', () => {
    const result = scanCut(`{"init_image":"${'A'.repeat(40)}","init_image":"short"}`, [10]);
    expect(result.parsed).toEqual({ init_image: 'short' });
    expect(
      heldValue(result.parsed!, new Map([['init_image', { chunks: [], length: 0 }]]), 'init_image'),
    ).toBe(undefined);
  });

  it('refuses what JSON.parse would refuse inside a held value', () => {
    for (const bad of ['\n', '\\x', '\\u12g4', '\u0001']) {
      const text = `{"init_image":"${'A'.repeat(20)}${bad}AAAA"}`;
      for (let cut = 14; cut < text.length; cut++) {
        expect(scanCut(text, [cut]).problem, JSON.stringify(bad)).toBe('bad-string');
      }
    }
    // An escape cut short by the end of the string.
    expect(scanCut(`{"init_image":"${'A'.repeat(20)}\\u12"}`, []).problem).toBe('bad-string');
  });

  it('refuses a long string anywhere else at once, naming its top-level field', () => {
    const long = 'x'.repeat(40);
    expect(scanCut(`{"prompt":"${long}"}`, [3])).toMatchObject({ problem: 'too-long', field: 'prompt' });
    expect(scanCut(`{"key":"k","track_id":"${long}"}`, [])).toMatchObject({
      problem: 'too-long',
      field: 'track_id',
    });
    expect(scanCut(`{"init_image":{"nested":"${long}"}}`, [])).toMatchObject({
      problem: 'too-long',
      field: 'init_image',
    });
    expect(scanCut(`{"a":1,"${long}":1}`, [])).toMatchObject({ problem: 'too-long', field: undefined });
    expect(scanCut(`["${long}"]`, [])).toMatchObject({ problem: 'too-long', field: undefined });
    // Not an image field on this route: refused like any other.
    expect(scanCut(`{"mask_image":"${long}"}`, [], { ...TINY, largeValueFields: new Set() })).toMatchObject({
      problem: 'too-long',
      field: 'mask_image',
    });
  });

  it('holds long strings of an image list aside as field[i], wherever the body is cut', () => {
    const long = 'B'.repeat(40);
    const list = `{"init_images":["short","${long}",{"x":"y"},"${long}C"],"prompt":"p"}`;
    const limits = { ...TINY, largeValueFields: new Set(['init_images']) };
    for (let cut = 1; cut < list.length; cut++) {
      const scanner = new JsonBodyScanner(limits);
      const bytes = Buffer.from(list);
      expect(
        scanner.write(Buffer.from(bytes.subarray(0, cut))) ?? scanner.write(Buffer.from(bytes.subarray(cut))),
      ).toBe(undefined);
      const parsed = JSON.parse(scanner.parsedText()) as Record<string, unknown>;
      expect(parsed.init_images, `cut at ${cut}`).toEqual([
        'short',
        LARGE_VALUE_PLACEHOLDER,
        { x: 'y' },
        LARGE_VALUE_PLACEHOLDER,
      ]);
      expect([...scanner.largeValues.keys()]).toEqual(['init_images[1]', 'init_images[3]']);
      expect(Buffer.concat(heldItem(parsed, scanner.largeValues, 'init_images', 3)!.chunks).toString()).toBe(
        `${long}C`,
      );
      expect(heldItem(parsed, scanner.largeValues, 'init_images', 0)).toBeUndefined();
    }
    // Deeper lists, and lists of other fields, hold nothing.
    expect(scanCut(`{"init_images":[["${long}"]]}`, [], { ...limits })).toMatchObject({
      problem: 'too-long',
    });
    expect(scanCut(`{"styles":["${long}"]}`, [], { ...limits })).toMatchObject({
      problem: 'too-long',
      field: 'styles',
    });
  });

  it('refuses more text for the parse than maxParsedBytes, held values aside', () => {
    const many = `{${Array.from({ length: 400 }, (_, i) => `"f${i}":"${'y'.repeat(15)}"`).join(',')}}`;
    expect(scanCut(many, []).problem).toBe('too-much-text');
    const image = `{"init_image":"${'A'.repeat(10_000)}"}`;
    expect(scanCut(image, []).problem).toBeUndefined();
  });
});
