import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/models/registry.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import { type ValidationResult, validateRequest } from '../../src/request/validate-request.ts';

const registry = loadRegistry();

function validate(text: string, mode?: 'img2img'): ValidationResult {
  const raw = parsePromptFlags(text);
  if (mode === 'img2img') raw.initImage = { artifactId: 'a'.repeat(32) };
  return validateRequest(raw, { registry, defaultModel: 'sd-1.5', randomSeed: () => 777 });
}

function video(text: string) {
  const result = validate(text);
  if (!result.ok) throw new Error(`expected a valid request, got ${JSON.stringify(result.errors)}`);
  return result.request.video;
}

function messages(result: ValidationResult): string[] {
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.request)}`);
  return result.errors.map((e) => e.message);
}

describe('video flags: accepted', () => {
  it('makes a seed walk at 8 fps by default', () => {
    expect(video('a forest --video 16')).toEqual({ frames: 16, fps: 8, loop: false, mode: 'walk' });
  });

  it('makes a morph when --to is given, and reads --fps and a bare --loop', () => {
    expect(video('a forest --video 24 --to a desert at dusk --fps 12 --loop')).toEqual({
      frames: 24,
      fps: 12,
      loop: true,
      mode: 'morph',
      to: 'a desert at dusk',
    });
    expect(video('a forest --loop --video 8')?.loop).toBe(true);
    expect(video('a forest --video 8 --loop no')?.loop).toBe(false);
  });

  it('takes a drift by name and a duration instead of an fps', () => {
    expect(video('a forest --video 20 --motion drift --duration 4')).toEqual({
      frames: 20,
      fps: 5,
      loop: false,
      mode: 'drift',
    });
  });

  it('leaves still pictures without a video', () => {
    expect(video('a forest')).toBeUndefined();
  });
});

describe('video flags: refused, each by name', () => {
  it.each([
    ['a forest --video 7', '--video: must be a whole number of frames from 8 to 48 (got "7")'],
    ['a forest --video 49', '--video: must be a whole number of frames from 8 to 48 (got "49")'],
    ['a forest --video 12.5', '--video: must be a whole number of frames from 8 to 48 (got "12.5")'],
    ['a forest --video 16 --fps 0', '--fps: must be from 1 to 30 frames a second (got "0")'],
    ['a forest --video 16 --fps 31', '--fps: must be from 1 to 30 frames a second (got "31")'],
    ['a forest --video 16 --fps 8 --duration 2', '--duration: give --fps or --duration, not both'],
    ['a forest --video 16 --motion spin', '--motion: must be walk, morph, drift (got "spin")'],
    ['a forest --video 16 --loop maybe', '--loop: must be yes or no (got "maybe")'],
  ])('%s', (text, message) => {
    expect(messages(validate(text))).toContain(message);
  });

  it('refuses a duration that makes the frame rate impossible, saying the range for those frames', () => {
    expect(messages(validate('a forest --video 16 --duration 60'))).toEqual([
      '--duration: must be from 0.53 to 16 seconds for 16 frames (must be from 1 to 30 frames a second; got "60")',
    ]);
  });

  it('refuses the video companions without --video', () => {
    expect(messages(validate('a forest --to a desert --fps 8 --loop'))).toEqual([
      '--fps: only applies to a video: ask for one with its number of frames, or leave --fps out',
      '--loop: only applies to a video: ask for one with its number of frames, or leave --loop out',
      '--to: only applies to a video: ask for one with its number of frames, or leave --to out',
    ]);
  });

  it('refuses --to without a second prompt, and a morph without --to', () => {
    expect(messages(validate('a forest --video 16 --to'))).toEqual([
      '--to: needs a value, e.g. --to a red dragon',
    ]);
    expect(messages(validate('a forest --video 16 --motion morph'))).toEqual([
      'to: a morph needs the second prompt it morphs into; give it, or pick another motion',
    ]);
    expect(messages(validate('--video 16 --to a desert'))[0]).toMatch(/^prompt: required/);
  });

  it('refuses a video with an incompatible mode or option', () => {
    expect(messages(validate('a forest --video 16', 'img2img'))).toContain(
      '--video: a video is drawn from a prompt; it cannot be combined with img2img (leave the image out)',
    );
    expect(messages(validate('a forest --video 16 --n 2'))).toEqual([
      '--n: a video is one clip; leave --n out (got 2)',
    ]);
    expect(messages(validate('a forest --video 16 --motion walk --to a desert'))).toEqual([
      '--to: only a morph has a second prompt; walk moves through one prompt (leave --to out)',
    ]);
    expect(messages(validate('a forest --video 16 --motion drift --loop'))).toEqual([
      '--loop: a drift zooms further with every frame and never comes back to its first; leave --loop out',
    ]);
  });
});
