import { describe, expect, it } from 'vitest';
import { parseAspectRatio, sizeForAspect } from '../../src/request/aspect-ratio.ts';
import { ASPECT_RATIOS } from '../../src/request/limits.ts';

describe('sizeForAspect', () => {
  it('gives the native square for 1:1', () => {
    expect(sizeForAspect('1:1', 512)).toEqual({ width: 512, height: 512 });
    expect(sizeForAspect('1:1', 1024)).toEqual({ width: 1024, height: 1024 });
  });

  it('gives 704x384 for 16:9 at 512 and SDXL bucket sizes at 1024', () => {
    expect(sizeForAspect('16:9', 512)).toEqual({ width: 704, height: 384 });
    expect(sizeForAspect('9:16', 512)).toEqual({ width: 384, height: 704 });
    expect(sizeForAspect('16:9', 1024)).toEqual({ width: 1344, height: 768 });
    expect(sizeForAspect('3:2', 1024)).toEqual({ width: 1280, height: 832 });
    expect(sizeForAspect('21:9', 1024)).toEqual({ width: 1536, height: 640 });
  });

  it.each(ASPECT_RATIOS.flatMap((ratio) => [512, 768, 1024].map((native) => [ratio, native] as const)))(
    '%s at %i: multiples of 64 in 320..1536, about the same area and ratio',
    (ratio, native) => {
      const { width, height } = sizeForAspect(ratio, native);
      for (const side of [width, height]) {
        expect(side % 64).toBe(0);
        expect(side).toBeGreaterThanOrEqual(320);
        expect(side).toBeLessThanOrEqual(1536);
      }
      const [w, h] = ratio.split(':').map(Number) as [number, number];
      const clamped = Math.max(w / h, h / w) * native > 1536 * 1.05 || Math.min(w / h, h / w) * native < 320;
      // Rounding each side to 64 moves the area and the ratio by at most a step's share of a side.
      if (!clamped) expect(Math.abs((width * height) / (native * native) - 1)).toBeLessThan(0.2);
      expect(Math.abs(width / height / (w / h) - 1)).toBeLessThan(0.12);
      expect(Math.sign(width - height)).toBe(Math.sign(w - h));
    },
  );
});

describe('parseAspectRatio', () => {
  it('accepts the listed ratios, with spaces, and reduces equal ratios', () => {
    for (const ratio of ASPECT_RATIOS) expect(parseAspectRatio(ratio)).toBe(ratio);
    expect(parseAspectRatio(' 16 : 9 ')).toBe('16:9');
    expect(parseAspectRatio('32:18')).toBe('16:9');
    expect(parseAspectRatio('2:2')).toBe('1:1');
    expect(parseAspectRatio('7:3')).toBe('21:9');
  });

  it('refuses zero sides, ratios not listed, and text that is no ratio', () => {
    for (const text of ['0:1', '1:0', '100:1', '7:4', 'abc', '16x9', '16:9:1', '', '-16:9', '1.5:1']) {
      expect(parseAspectRatio(text), text).toBeUndefined();
    }
  });
});
