import { describeValue, readNumber } from './number-values.ts';
import type { RegionPercent } from './types.ts';

/**
 * The area to repaint when inpainting from chat, where no mask can be drawn: a preset name or
 * `x,y,w,h` in percent of the image (`10,20,50%,50%` and spaces work too).
 */
export const REGION_PRESETS: Record<string, RegionPercent> = {
  center: { x: 25, y: 25, w: 50, h: 50 },
  top: { x: 0, y: 0, w: 100, h: 50 },
  bottom: { x: 0, y: 50, w: 100, h: 50 },
  left: { x: 0, y: 0, w: 50, h: 100 },
  right: { x: 50, y: 0, w: 50, h: 100 },
  // Everything but the centre: the subject usually sits there and stays.
  background: { x: 25, y: 25, w: 50, h: 50, invert: true },
};

const PRESET_ALIASES: Record<string, string> = { middle: 'center', centre: 'center', bg: 'background' };

export const REGION_HELP = `${Object.keys(REGION_PRESETS).join(', ')}, or x,y,w,h in percent of the image (e.g. 25,25,50,50)`;

export type RegionRead = { ok: true; region: RegionPercent } | { ok: false; message: string };

/** Checks a region's numbers: each 0..100, a non-empty area, inside the image. */
export function checkRegion(region: RegionPercent): RegionRead {
  const { x, y, w, h } = region;
  const values = { x, y, w, h };
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isFinite(value) || value < 0 || value > 100) {
      return {
        ok: false,
        message: `${name} must be a number from 0 to 100 percent (got ${describeValue(value)})`,
      };
    }
  }
  if (w === 0 || h === 0)
    return { ok: false, message: `width and height must be more than 0 percent (got ${w}x${h})` };
  if (x + w > 100) return { ok: false, message: `x + w must be at most 100 percent (got ${x} + ${w})` };
  if (y + h > 100) return { ok: false, message: `y + h must be at most 100 percent (got ${y} + ${h})` };
  return { ok: true, region: { ...region } };
}

export function parseRegion(text: string): RegionRead {
  const name = text.trim().toLowerCase();
  const presetName = PRESET_ALIASES[name] ?? name;
  const preset = REGION_PRESETS[presetName];
  if (preset) return { ok: true, region: { ...preset } };
  const parts = name.split(/[\s,;]+/).filter(Boolean);
  const numbers = parts.map((p) => readNumber(p.replace(/%$/, '')));
  if (parts.length !== 4 || numbers.some((n) => n === undefined)) {
    return { ok: false, message: `must be ${REGION_HELP} (got ${describeValue(text)})` };
  }
  const [x, y, w, h] = numbers as [number, number, number, number];
  return checkRegion({ x, y, w, h });
}
