import { createServer } from 'node:net';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { expect } from 'vitest';
import type { Services } from '../../../src/app/services.ts';
import type { ArtifactStore } from '../../../src/artifacts/artifact-store.ts';

/** A free TCP port on loopback, for an api role whose address the chat roles must know in advance. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The link in a private answer. */
export function linkIn(text: string): string {
  const match = /(https?:\/\/[^\s<>|]+\/region\?t=[A-Za-z0-9_.%-]+)/.exec(text);
  if (!match?.[1]) throw new Error(`no Vary (Region) link in: ${text}`);
  return match[1];
}

/** A point in the image's pixels, and where it is on the screen. */
export interface StrokePoint {
  client: { x: number; y: number };
  image: { x: number; y: number };
}

/**
 * Where fractions of the image (0..1) are on the screen, rounded to whole CSS pixels, and those
 * screen points in image pixels, mapped the way any page maps a pointer over a scaled canvas.
 */
export async function screenPoints(
  page: Page,
  at: { x: number; y: number }[],
  image: { width: number; height: number },
): Promise<StrokePoint[]> {
  const rect = await page.locator('#mask').evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { left: r.left, top: r.top, width: r.width, height: r.height };
  });
  return at.map((f) => {
    const client = {
      x: Math.round(rect.left + f.x * rect.width),
      y: Math.round(rect.top + f.y * rect.height),
    };
    return {
      client,
      image: {
        x: (client.x - rect.left) * (image.width / rect.width),
        y: (client.y - rect.top) * (image.height / rect.height),
      },
    };
  });
}

/** A mouse drag through the points (one move event per point). */
export async function mouseDrag(page: Page, points: StrokePoint[]): Promise<void> {
  const [first, ...rest] = points;
  if (!first) return;
  await page.mouse.move(first.client.x, first.client.y);
  await page.mouse.down();
  for (const p of rest) await page.mouse.move(p.client.x, p.client.y, { steps: 1 });
  await page.mouse.up();
}

/** A one-finger drag through the points, as a phone's touchscreen sends it (CDP touch events). */
export async function touchDrag(page: Page, points: StrokePoint[]): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  const [first, ...rest] = points;
  if (!first) return;
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [first.client] });
  for (const p of rest)
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [p.client] });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

/** The pixels whose centres lie inside the rectangle between two corners. */
export function expectedRectangleMask(
  a: { x: number; y: number },
  b: { x: number; y: number },
  width: number,
  height: number,
): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      if (
        cx >= Math.min(a.x, b.x) &&
        cx <= Math.max(a.x, b.x) &&
        cy >= Math.min(a.y, b.y) &&
        cy <= Math.max(a.y, b.y)
      )
        out[y * width + x] = 255;
    }
  return out;
}

/** The pixels whose centres lie inside the polygon, by the classic crossing test (even-odd). */
export function expectedPolygonMask(
  points: { x: number; y: number }[],
  width: number,
  height: number,
): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      let inside = false;
      for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
        const a = points[i]!;
        const b = points[j]!;
        if (a.y > py !== b.y > py && px < ((b.x - a.x) * (py - a.y)) / (b.y - a.y) + a.x) inside = !inside;
      }
      if (inside) out[y * width + x] = 255;
    }
  return out;
}

/** Pixels painted in either mask. */
export function union(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((v, i) => (v !== 0 || b[i] !== 0 ? 255 : 0));
}

/**
 * The mask a round brush of `radius` image pixels paints along the polyline: a pixel is white when
 * its centre lies within `radius` of a segment. Written here from the definition, apart from the page.
 */
export function expectedStrokeMask(
  points: { x: number; y: number }[],
  radius: number,
  width: number,
  height: number,
): Uint8Array {
  const out = new Uint8Array(width * height);
  const segments =
    points.length === 1 ? [[points[0]!, points[0]!]] : points.slice(1).map((p, i) => [points[i]!, p]);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      for (const [a, b] of segments) {
        const vx = b!.x - a!.x;
        const vy = b!.y - a!.y;
        const l2 = vx * vx + vy * vy;
        const t = l2 === 0 ? 0 : Math.min(1, Math.max(0, ((px - a!.x) * vx + (py - a!.y) * vy) / l2));
        const dx = px - (a!.x + t * vx);
        const dy = py - (a!.y + t * vy);
        if (dx * dx + dy * dy <= radius * radius) {
          out[y * width + x] = 255;
          break;
        }
      }
    }
  }
  return out;
}

/** The mask the inpaint job was queued with, one byte a pixel. */
export async function queuedMask(
  services: Services,
  artifacts: ArtifactStore,
  jobId: string,
): Promise<{
  data: Buffer;
  width: number;
  height: number;
  request: NonNullable<Awaited<ReturnType<Services['jobs']['get']>>>['data']['request'];
}> {
  const job = await services.jobs.get(jobId);
  expect(job?.data.request.mode).toBe('inpaint');
  const maskId = job?.data.request.maskImage?.artifactId;
  expect(maskId).toBeDefined();
  const stored = await artifacts.get(maskId!);
  expect(stored?.meta.contentType).toBe('image/png');
  expect((await sharp(stored!.bytes).metadata()).channels).toBe(1);
  const { data, info } = await sharp(stored!.bytes)
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(1);
  return { data, width: info.width, height: info.height, request: job!.data.request };
}

/** How many pixels differ between two masks of the same size. */
export function differingPixels(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

export function paintedPixels(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) if (v !== 0) n++;
  return n;
}
