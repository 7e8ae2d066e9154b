/**
 * Where each frame of a clip sits between its key frames. Pure, so a clip's motion can be checked
 * without rendering it.
 */

/** A seed walk passes one seed every this many frames: slow enough that neighbours stay alike. */
export const FRAMES_PER_SEED = 8;

export interface WalkPosition {
  /** The seeds whose noise this frame lies between, and how far it is from the first (0..1). */
  from: number;
  to: number;
  t: number;
}

/**
 * A seed walk: the starting noise travels through seed, seed + 1, ... A looping walk ends on its
 * first seed and leaves that last key frame out (the clip's first frame follows it), so it repeats
 * without a jump; an open walk shows both ends.
 */
export function walkPositions(seed: number, frames: number, loop: boolean): WalkPosition[] {
  const segments = loop
    ? Math.max(2, Math.round(frames / FRAMES_PER_SEED))
    : Math.max(1, Math.round((frames - 1) / FRAMES_PER_SEED));
  const key = (k: number) => seed + (loop ? k % segments : k);
  const positions: WalkPosition[] = [];
  for (let i = 0; i < frames; i++) {
    const p = loop ? (i * segments) / frames : (i * segments) / (frames - 1);
    const k = Math.min(Math.floor(p), segments - 1);
    positions.push({ from: key(k), to: key(k + 1), t: p - k });
  }
  return positions;
}

/**
 * A prompt morph's weight of the second prompt per frame: 0 to 1 for an open clip; there and back
 * for a looping one, whose last frame is one step short of the first so the repeat is seamless.
 */
export function morphWeights(frames: number, loop: boolean): number[] {
  return Array.from({ length: frames }, (_, i) => {
    if (!loop) return i / (frames - 1);
    const u = (2 * i) / frames;
    return u <= 1 ? u : 2 - u;
  });
}
