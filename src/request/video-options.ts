import { readFlag } from './lenient-values.ts';
import {
  PROMPT_MAX_CHARS,
  VIDEO_FPS_DEFAULT,
  VIDEO_FPS_MAX,
  VIDEO_FPS_MIN,
  VIDEO_FRAMES_MAX,
  VIDEO_FRAMES_MIN,
} from './limits.ts';
import { describeValue, readNumber, readWholeNumber } from './number-values.ts';
import { isAbsent, type RawField, type RawRequest } from './raw-request.ts';
import { type GenerationMode, VIDEO_MODES, type VideoMode, type VideoRequest } from './types.ts';
import { codePointCount, hasVisibleCharacter } from './visible-text.ts';

const VIDEO_ONLY = ['fps', 'duration', 'loop', 'motion', 'to'] as const;

/**
 * The clip part of a request (`--video N` and its companions), or undefined for still pictures.
 * Reports through `bad` every companion given without `--video`, every value out of range, and
 * every combination that cannot make a clip, so nothing is queued (or charged) that would fail later.
 */
export function resolveVideo(
  raw: RawRequest,
  mode: GenerationMode,
  count: number,
  label: (field: RawField) => string,
  bad: (field: RawField, message: string) => void,
): VideoRequest | undefined {
  const given = (field: RawField) => !isAbsent(raw[field as keyof RawRequest]);
  if (!given('video')) {
    for (const field of VIDEO_ONLY) {
      if (given(field))
        bad(
          field,
          `only applies to a video: ask for one with its number of frames, or leave ${label(field)} out`,
        );
    }
    return undefined;
  }
  let ok = true;
  const fail = (field: RawField, message: string) => {
    ok = false;
    bad(field, message);
  };

  const frames = readWholeNumber(raw.video);
  if (frames === undefined || frames < VIDEO_FRAMES_MIN || frames > VIDEO_FRAMES_MAX) {
    fail(
      'video',
      `must be a whole number of frames from ${VIDEO_FRAMES_MIN} to ${VIDEO_FRAMES_MAX} (got ${describeValue(raw.video)})`,
    );
  }
  if (mode !== 'txt2img') {
    fail('video', `a video is drawn from a prompt; it cannot be combined with ${mode} (leave the image out)`);
  }
  if (count !== 1) {
    fail('count', `a video is one clip; leave ${label('count')} out (got ${count})`);
  }

  let fps = VIDEO_FPS_DEFAULT;
  const fpsProblem = `must be from ${VIDEO_FPS_MIN} to ${VIDEO_FPS_MAX} frames a second`;
  if (given('fps') && given('duration')) {
    fail('duration', `give ${label('fps')} or ${label('duration')}, not both`);
  } else if (given('fps')) {
    const n = readNumber(raw.fps);
    if (n === undefined || n < VIDEO_FPS_MIN || n > VIDEO_FPS_MAX)
      fail('fps', `${fpsProblem} (got ${describeValue(raw.fps)})`);
    else fps = n;
  } else if (given('duration')) {
    const seconds = readNumber(raw.duration);
    const wanted =
      seconds !== undefined && seconds > 0 && frames !== undefined ? frames / seconds : undefined;
    if (wanted === undefined || wanted < VIDEO_FPS_MIN || wanted > VIDEO_FPS_MAX) {
      const range =
        frames !== undefined
          ? `from ${round2(frames / VIDEO_FPS_MAX)} to ${round2(frames / VIDEO_FPS_MIN)} seconds for ${frames} frames`
          : 'a number of seconds';
      fail('duration', `must be ${range} (${fpsProblem}; got ${describeValue(raw.duration)})`);
    } else {
      fps = wanted;
    }
  }

  let loop = false;
  if (given('loop')) {
    const read = readFlag(raw.loop);
    if (read === undefined) fail('loop', `must be yes or no (got ${describeValue(raw.loop)})`);
    else loop = read;
  }

  let to: string | undefined;
  if (given('to')) {
    if (typeof raw.to !== 'string') {
      fail('to', `must be the prompt to morph into (got ${describeValue(raw.to)})`);
    } else {
      const text = raw.to.trim();
      const length = codePointCount(text);
      if (length > PROMPT_MAX_CHARS)
        fail('to', `must be at most ${PROMPT_MAX_CHARS} characters (got ${length})`);
      else if (!hasVisibleCharacter(text))
        fail('to', 'has no visible characters; describe what the clip morphs into');
      else to = text;
    }
  }

  let motion: VideoMode = given('to') ? 'morph' : 'walk';
  if (given('motion')) {
    const named = typeof raw.motion === 'string' ? raw.motion.trim().toLowerCase() : undefined;
    if (named !== undefined && (VIDEO_MODES as readonly string[]).includes(named))
      motion = named as VideoMode;
    else fail('motion', `must be ${VIDEO_MODES.join(', ')} (got ${describeValue(raw.motion)})`);
  }
  if (motion === 'morph' && !given('to')) {
    fail('to', 'a morph needs the second prompt it morphs into; give it, or pick another motion');
  }
  if (motion !== 'morph' && given('to')) {
    fail(
      'to',
      `only a morph has a second prompt; ${motion} moves through one prompt (leave ${label('to')} out)`,
    );
  }
  if (motion === 'drift' && loop) {
    fail(
      'loop',
      `a drift zooms further with every frame and never comes back to its first; leave ${label('loop')} out`,
    );
  }

  if (!ok || frames === undefined) return undefined;
  const video: VideoRequest = { frames, fps, loop, mode: motion };
  if (to !== undefined) video.to = to;
  return video;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
