import { describe, expect, it } from 'vitest';
import {
  emptyMask,
  invertMask,
  paintedCount,
  paintPolygon,
  paintRectangle,
  paintSegment,
} from '../../src/region-editor/page/mask-raster.ts';
import {
  checkRegionToken,
  newNonce,
  REGION_LINK_TTL_MS,
  type RegionClaims,
  signRegionToken,
} from '../../src/region-editor/region-token.ts';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const NOW = 1_800_000_000_000;

function claims(overrides: Partial<RegionClaims> = {}): RegionClaims {
  return {
    jobId: 'g0123abc',
    index: 0,
    scope: 'discord:111',
    userId: '222',
    expiresAt: NOW + REGION_LINK_TTL_MS,
    nonce: newNonce(),
    ...overrides,
  };
}

describe('Vary (Region) tokens', () => {
  it('verifies a token it signed until the moment it expires, and not after', () => {
    const c = claims();
    const token = signRegionToken(SECRET, c);
    expect(checkRegionToken(SECRET, token, NOW)).toEqual({ ok: true, claims: c });
    expect(checkRegionToken(SECRET, token, c.expiresAt - 1).ok).toBe(true);
    expect(checkRegionToken(SECRET, token, c.expiresAt)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('calls forged a token signed with another key, with changed claims, or malformed', () => {
    const token = signRegionToken(SECRET, claims());
    const [body, signature] = token.split('.') as [string, string];
    const changed = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), u: '333' }),
    ).toString('base64url');
    const forged = [
      signRegionToken('another-secret-of-at-least-32-characters', claims()),
      `${changed}.${signature}`,
      `${body}.${signature.slice(0, -1)}`,
      `${body}.${signature}.x`,
      `${body}.`,
      '',
      'x'.repeat(5000),
      undefined,
      42,
    ];
    for (const t of forged) expect(checkRegionToken(SECRET, t, NOW)).toEqual({ ok: false, reason: 'forged' });
  });

  it('says forged, not expired, for an expired token with a bad signature', () => {
    const token = signRegionToken('another-secret-of-at-least-32-characters', claims({ expiresAt: NOW - 1 }));
    expect(checkRegionToken(SECRET, token, NOW)).toEqual({ ok: false, reason: 'forged' });
  });
});

describe('the mask the editor paints', () => {
  it('paints a brush dot as the pixels whose centres lie within the radius', () => {
    const mask = emptyMask(10, 10);
    paintSegment(mask, { x: 5, y: 5 }, { x: 5, y: 5 }, 1);
    // Centres (4.5|5.5, 4.5|5.5) are 0.71 away; (3.5, 5.5) is 1.58 away.
    expect(paintedCount(mask)).toBe(4);
    expect([...mask.data.keys()].filter((i) => mask.data[i] === 255)).toEqual([44, 45, 54, 55]);
  });

  it('paints a rectangle between two corners in any order, clipped to the image', () => {
    const mask = emptyMask(8, 6);
    paintRectangle(mask, { x: 6.2, y: 4 }, { x: 2, y: 1.4 });
    // Columns 2..5 (centres 2.5..5.5), rows 1..3 (centres 1.5..3.5).
    expect(paintedCount(mask)).toBe(12);
    expect(mask.data[1 * 8 + 2]).toBe(255);
    expect(mask.data[3 * 8 + 5]).toBe(255);
    expect(mask.data[4 * 8 + 5]).toBe(0);
    const edge = emptyMask(8, 6);
    paintRectangle(edge, { x: -5, y: -5 }, { x: 100, y: 100 });
    expect(paintedCount(edge)).toBe(48);
  });

  it('fills a lasso by the even-odd rule and inverts', () => {
    const mask = emptyMask(10, 10);
    // A right triangle with legs of 10 along the top and left edges: pixel centres with x + y < 10.
    paintPolygon(mask, [
      { x: 0, y: 0 },
      { x: 10, y: 0 },
      { x: 0, y: 10 },
    ]);
    let expected = 0;
    for (let y = 0; y < 10; y++)
      for (let x = 0; x < 10; x++) {
        const inside = x + 0.5 + (y + 0.5) < 10;
        if (inside) expected++;
        expect(mask.data[y * 10 + x]).toBe(inside ? 255 : 0);
      }
    expect(paintedCount(mask)).toBe(expected);
    invertMask(mask);
    expect(paintedCount(mask)).toBe(100 - expected);
    expect(
      paintPolygon(mask, [
        { x: 1, y: 1 },
        { x: 2, y: 2 },
      ]),
    ).toBeUndefined();
  });
});
