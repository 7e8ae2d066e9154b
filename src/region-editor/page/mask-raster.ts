/**
 * The mask the editor paints, at the image's own size, one byte a pixel (255 = change). Pure and
 * exact: a pixel is painted when its centre lies inside the shape, with no antialiasing, so the PNG
 * the page sends is exactly what the member painted (the browser test checks it pixel for pixel).
 * Runs in the page; no DOM here.
 */
export interface MaskBuffer {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** The pixels a shape may touch, clipped to the mask (x1, y1 exclusive); undefined when none. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function emptyMask(width: number, height: number): MaskBuffer {
  return { data: new Uint8Array(width * height), width, height };
}

function clip(mask: MaskBuffer, x0: number, y0: number, x1: number, y1: number): Box | undefined {
  const box = {
    x0: Math.max(0, Math.floor(x0)),
    y0: Math.max(0, Math.floor(y0)),
    x1: Math.min(mask.width, Math.ceil(x1) + 1),
    y1: Math.min(mask.height, Math.ceil(y1) + 1),
  };
  return box.x0 < box.x1 && box.y0 < box.y1 ? box : undefined;
}

/** A brush stroke from `a` to `b`: every pixel whose centre is within `radius` of the segment. */
export function paintSegment(mask: MaskBuffer, a: Point, b: Point, radius: number): Box | undefined {
  const box = clip(
    mask,
    Math.min(a.x, b.x) - radius - 1,
    Math.min(a.y, b.y) - radius - 1,
    Math.max(a.x, b.x) + radius,
    Math.max(a.y, b.y) + radius,
  );
  if (!box) return undefined;
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const length2 = dx * dx + dy * dy;
  const r2 = radius * radius;
  for (let y = box.y0; y < box.y1; y++) {
    const py = y + 0.5;
    for (let x = box.x0; x < box.x1; x++) {
      const px = x + 0.5;
      const t = length2 === 0 ? 0 : Math.min(1, Math.max(0, ((px - a.x) * dx + (py - a.y) * dy) / length2));
      const ex = px - (a.x + t * dx);
      const ey = py - (a.y + t * dy);
      if (ex * ex + ey * ey <= r2) mask.data[y * mask.width + x] = 255;
    }
  }
  return box;
}

/** A rectangle between two corners: every pixel whose centre lies inside it. */
export function paintRectangle(mask: MaskBuffer, a: Point, b: Point): Box | undefined {
  const left = Math.min(a.x, b.x);
  const right = Math.max(a.x, b.x);
  const top = Math.min(a.y, b.y);
  const bottom = Math.max(a.y, b.y);
  const box = clip(mask, left - 1, top - 1, right, bottom);
  if (!box) return undefined;
  for (let y = box.y0; y < box.y1; y++) {
    if (y + 0.5 < top || y + 0.5 > bottom) continue;
    for (let x = box.x0; x < box.x1; x++) {
      if (x + 0.5 >= left && x + 0.5 <= right) mask.data[y * mask.width + x] = 255;
    }
  }
  return box;
}

/** A lasso: every pixel whose centre lies inside the closed polygon (even-odd rule). */
export function paintPolygon(mask: MaskBuffer, points: readonly Point[]): Box | undefined {
  if (points.length < 3) return undefined;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const box = clip(mask, Math.min(...xs) - 1, Math.min(...ys) - 1, Math.max(...xs), Math.max(...ys));
  if (!box) return undefined;
  const crossings: number[] = [];
  for (let y = box.y0; y < box.y1; y++) {
    const py = y + 0.5;
    crossings.length = 0;
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      const q = points[(i + 1) % points.length]!;
      // Half-open in y, so a vertex on the scanline is counted once.
      if (p.y <= py !== q.y <= py) crossings.push(p.x + ((py - p.y) / (q.y - p.y)) * (q.x - p.x));
    }
    crossings.sort((m, n) => m - n);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const from = Math.max(box.x0, Math.ceil(crossings[k]! - 0.5));
      const to = Math.min(box.x1, Math.ceil(crossings[k + 1]! - 0.5));
      for (let x = from; x < to; x++) mask.data[y * mask.width + x] = 255;
    }
  }
  return box;
}

export function invertMask(mask: MaskBuffer): void {
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = 255 - mask.data[i]!;
}

export function paintedCount(mask: MaskBuffer): number {
  let n = 0;
  for (const v of mask.data) if (v !== 0) n++;
  return n;
}
