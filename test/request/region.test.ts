import { describe, expect, it } from 'vitest';
import { parseRegion } from '../../src/request/region.ts';

describe('parseRegion', () => {
  it.each([
    ['center', { x: 25, y: 25, w: 50, h: 50 }],
    ['Centre', { x: 25, y: 25, w: 50, h: 50 }],
    ['top', { x: 0, y: 0, w: 100, h: 50 }],
    ['bottom', { x: 0, y: 50, w: 100, h: 50 }],
    ['left', { x: 0, y: 0, w: 50, h: 100 }],
    ['right', { x: 50, y: 0, w: 50, h: 100 }],
    ['background', { x: 25, y: 25, w: 50, h: 50, invert: true }],
  ])('knows the preset %s', (text, region) => {
    expect(parseRegion(text)).toEqual({ ok: true, region });
  });

  it('reads x,y,w,h in percent, with % signs and spaces', () => {
    expect(parseRegion('10,20,30,40')).toEqual({ ok: true, region: { x: 10, y: 20, w: 30, h: 40 } });
    expect(parseRegion(' 10%, 20% , 50.5%, 50% ')).toEqual({
      ok: true,
      region: { x: 10, y: 20, w: 50.5, h: 50 },
    });
    expect(parseRegion('0 0 100 100')).toEqual({ ok: true, region: { x: 0, y: 0, w: 100, h: 100 } });
  });

  it.each([
    ['the hat', 'must be center, top, bottom, left, right, background, or x,y,w,h in percent'],
    ['10,20,30', 'must be center, top'],
    ['10,20,30,abc', 'must be center, top'],
    ['10,20,30,40,50', 'must be center, top'],
    ['', 'must be center, top'],
    ['120,0,10,10', 'x must be a number from 0 to 100 percent (got 120)'],
    ['0,0,0,50', 'width and height must be more than 0 percent (got 0x50)'],
    ['60,0,50,10', 'x + w must be at most 100 percent (got 60 + 50)'],
    ['0,70,10,40', 'y + h must be at most 100 percent (got 70 + 40)'],
  ])('refuses %j with a clear message', (text, message) => {
    const read = parseRegion(text);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.message).toContain(message);
  });
});
