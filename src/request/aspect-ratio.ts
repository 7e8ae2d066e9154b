import { ASPECT_RATIOS, type AspectRatio, SIDE_MAX, SIDE_MIN, SIDE_STEP } from './limits.ts';

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * One of the allowed ratios for text like "16:9" (spaces allowed; "32:18" is "16:9"), or
 * undefined for anything else ("0:1", "100:1", "abc").
 */
export function parseAspectRatio(text: string): AspectRatio | undefined {
  const match = /^\s*(\d{1,4})\s*:\s*(\d{1,4})\s*$/.exec(text);
  if (!match) return undefined;
  const wanted = reduced(Number(match[1]), Number(match[2]));
  // Compared in lowest terms: "21:9" is listed as members know it, though it reduces to 7:3.
  return wanted === undefined ? undefined : ASPECT_RATIOS.find((r) => reduced(...sides(r)) === wanted);
}

function sides(ratio: AspectRatio): [number, number] {
  return ratio.split(':').map(Number) as [number, number];
}

function reduced(w: number, h: number): string | undefined {
  if (w === 0 || h === 0) return undefined;
  const d = gcd(w, h);
  return `${w / d}:${h / d}`;
}

function toStep(side: number): number {
  const stepped = Math.round(side / SIDE_STEP) * SIDE_STEP;
  return Math.min(SIDE_MAX, Math.max(SIDE_MIN, stepped));
}

/**
 * The display size for an aspect ratio: the area of the model's native square
 * (`nativeResolution`²), each side rounded to the nearest multiple of 64 and clamped to 320..1536.
 * Rounding each side on its own keeps both the ratio and the area within a few percent:
 * 16:9 at 512 gives 704x384, at 1024 gives 1344x768 (SDXL's own bucket).
 */
export function sizeForAspect(
  ratio: AspectRatio,
  nativeResolution: number,
): { width: number; height: number } {
  const [w, h] = sides(ratio);
  const area = nativeResolution * nativeResolution;
  return {
    width: toStep(Math.sqrt((area * w) / h)),
    height: toStep(Math.sqrt((area * h) / w)),
  };
}
