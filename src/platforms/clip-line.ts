import type { RenderedClip } from '../queue/job-data.ts';

/** A clip described in one line for a chat message: "🎞️ walk · 16 frames at 8 fps (2 s), looping". */
export function clipLine(clip: RenderedClip): string {
  const seconds = Math.round(clip.durationMs / 100) / 10;
  const fps = Math.round(clip.fps * 100) / 100;
  return `🎞️ ${clip.mode} · ${clip.frames} frames at ${fps} fps (${seconds} s)${clip.loop ? ', looping' : ''}`;
}
