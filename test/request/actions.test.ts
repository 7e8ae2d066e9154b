import { describe, expect, it } from 'vitest';
import {
  type ButtonAction,
  decodeActionId,
  describeAction,
  encodeActionId,
  requestForAction,
  resultButtonRows,
  type SourceJob,
} from '../../commands/actions.ts';
import { isUserError, type UserError } from '../../src/errors/user-error.ts';
import type { GenerateResult, RenderedImage } from '../../src/queue/job-data.ts';
import type { GenerationRequest } from '../../src/request/types.ts';

const JOB = 'g0123456789abcdef01234567';

const ALL: ButtonAction[] = [
  { action: 'upscale', jobId: JOB, index: 0, factor: 2 },
  { action: 'upscale', jobId: JOB, index: 3, factor: 4 },
  { action: 'variation', jobId: JOB, index: 1, level: 'subtle' },
  { action: 'variation', jobId: JOB, index: 2, level: 'strong' },
  { action: 'reroll', jobId: JOB },
  { action: 'inpaint', jobId: JOB, index: 0 },
  { action: 'vary-region', jobId: JOB, index: 2 },
  { action: 'zoom-out', jobId: JOB, index: 0, zoom: 1.5 },
  { action: 'zoom-out', jobId: JOB, index: 1, zoom: 2 },
  { action: 'pan', jobId: JOB, index: 0, direction: 'left' },
  { action: 'pan', jobId: JOB, index: 0, direction: 'right' },
  { action: 'pan', jobId: JOB, index: 0, direction: 'up' },
  { action: 'pan', jobId: JOB, index: 0, direction: 'down' },
  { action: 'cancel', jobId: JOB },
];

function refusal(fn: () => unknown): UserError {
  try {
    fn();
  } catch (error) {
    if (isUserError(error)) return error;
    throw new Error(`expected a UserError, got ${String(error)}`);
  }
  throw new Error('expected a UserError, nothing was thrown');
}

describe('button ids', () => {
  it.each(ALL)('round-trips %o within 100 characters, with a version prefix', (action) => {
    const id = encodeActionId(action);
    expect(id.startsWith('e1:')).toBe(true);
    expect(id.length).toBeLessThanOrEqual(100);
    expect(decodeActionId(id)).toEqual(action);
  });

  it('gives every button of one message a different id', () => {
    const ids = ALL.map(encodeActionId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('encodes the documented shape', () => {
    expect(encodeActionId({ action: 'upscale', jobId: JOB, index: 2, factor: 2 })).toBe(`e1:u2:${JOB}:2`);
    expect(encodeActionId({ action: 'reroll', jobId: JOB })).toBe(`e1:r:${JOB}`);
  });

  it.each([
    ['', 'is not one easel knows'],
    ['hello', 'is not one easel knows'],
    ['e1', 'is not one easel knows'],
    [`e2:u2:${JOB}:0`, 'comes from another version of easel (e2)'],
    [`e1:q:${JOB}:0`, 'has an action easel does not know ("q")'],
    ['e1:u2::0', 'names no valid job'],
    ['e1:u2:bad/job:0', 'names no valid job'],
    [`e1:u2:${JOB}`, 'is malformed'],
    [`e1:r:${JOB}:0`, 'is malformed'],
    [`e1:u2:${JOB}:0:9`, 'is malformed'],
    [`e1:u2:${JOB}:4`, 'names no valid image ("4")'],
    [`e1:u2:${JOB}:-1`, 'names no valid image ("-1")'],
    [`e1:u2:${JOB}:x`, 'names no valid image ("x")'],
    [`e1:u2:${'a'.repeat(120)}:0`, 'is not one easel knows'],
  ])('refuses %j with a UserError saying the button %s', (id, why) => {
    const error = refusal(() => decodeActionId(id));
    expect(error.identifier).toBe('invalid-request');
    expect(error.message).toContain(why);
    expect(error.message).toContain('run /imagine again');
  });

  it('refuses ids that are not strings without a TypeError', () => {
    for (const id of [undefined, null, 42, {}, ['e1:r:x']]) {
      expect(refusal(() => decodeActionId(id)).message).toContain('is not one easel knows');
    }
  });

  it('refuses to encode a job id that could not be decoded', () => {
    expect(() => encodeActionId({ action: 'reroll', jobId: 'a:b' })).toThrow(/job id unfit/);
    expect(() => encodeActionId({ action: 'inpaint', jobId: JOB, index: 4 })).toThrow(/index out of range/);
  });

  it('names actions for members', () => {
    expect(ALL.map(describeAction)).toEqual([
      'Upscale 2x of image 1',
      'Upscale 4x of image 4',
      'Vary (Subtle) of image 2',
      'Vary (Strong) of image 3',
      'Reroll',
      'Inpaint of image 1',
      'Vary (Region) of image 3',
      'Zoom Out 1.5x of image 1',
      'Zoom Out 2x of image 2',
      'Pan Left of image 1',
      'Pan Right of image 1',
      'Pan Up of image 1',
      'Pan Down of image 1',
      'Cancel',
    ]);
  });
});

const gridRequest: GenerationRequest = {
  mode: 'txt2img',
  prompt: 'a lighthouse',
  negativePrompt: 'boats',
  model: 'sd-1.5',
  width: 704,
  height: 384,
  steps: 30,
  guidance: 7,
  sampler: 'euler_a',
  seed: 42,
  count: 4,
};

function image(n: number, size: [number, number] = [704, 384]): RenderedImage {
  return { artifactId: `art-${n}`, width: size[0], height: size[1], bytes: 1000, seed: 42 + n, nsfw: null };
}

function result(images: RenderedImage[]): GenerateResult {
  return {
    v: 1,
    images,
    seed: 42,
    model: 'sd-1.5',
    provider: 'cpu',
    truncatedWords: [],
    timings: { loadMs: 0, renderMs: 0, totalMs: 0 },
  };
}

const grid: SourceJob = { request: gridRequest, result: result([0, 1, 2, 3].map((n) => image(n))) };
const seed = () => 99;

describe('requestForAction', () => {
  it('upscales the chosen image at its own size and seed', () => {
    expect(
      requestForAction(grid, { action: 'upscale', jobId: JOB, index: 2, factor: 2 }, { randomSeed: seed }),
    ).toEqual({
      ...gridRequest,
      mode: 'upscale',
      seed: 44,
      count: 1,
      upscale: 2,
      initImage: { artifactId: 'art-2' },
      source: { jobId: JOB, index: 2 },
    });
  });

  it('makes subtle and strong variations with a new seed and the grid size', () => {
    const subtle = requestForAction(
      grid,
      { action: 'variation', jobId: JOB, index: 1, level: 'subtle' },
      { randomSeed: seed },
    );
    expect(subtle).toMatchObject({
      mode: 'variation',
      strength: 0.35,
      seed: 99,
      count: 4,
      width: 704,
      height: 384,
      prompt: 'a lighthouse',
      initImage: { artifactId: 'art-1' },
      source: { jobId: JOB, index: 1 },
    });
    const strong = requestForAction(grid, { action: 'variation', jobId: JOB, index: 1, level: 'strong' });
    expect(strong.strength).toBe(0.65);
    expect(strong.seed).not.toBe(42);
  });

  it('rerolls the same request with only a new seed', () => {
    expect(requestForAction(grid, { action: 'reroll', jobId: JOB }, { randomSeed: seed })).toEqual({
      ...gridRequest,
      seed: 99,
    });
  });

  it('zooms out from the chosen image', () => {
    expect(
      requestForAction(grid, { action: 'zoom-out', jobId: JOB, index: 0, zoom: 1.5 }, { randomSeed: seed }),
    ).toMatchObject({ mode: 'outpaint', zoomOut: 1.5, initImage: { artifactId: 'art-0' }, seed: 99 });
  });

  it('pans the chosen image one side 1.5x, on the render grid, and no further than easel renders', () => {
    const right = requestForAction(
      grid,
      { action: 'pan', jobId: JOB, index: 1, direction: 'right' },
      { randomSeed: seed },
    );
    // 704 x 1.5 = 1056, the nearest multiple of 64 is 1088 (1024 is as near; round half up).
    expect(right).toMatchObject({ mode: 'outpaint', pan: 'right', width: 1088, height: 384, strength: 1 });
    expect(right.zoomOut).toBeUndefined();
    expect(right.initImage).toEqual({ artifactId: 'art-1' });
    const down = requestForAction(
      grid,
      { action: 'pan', jobId: JOB, index: 0, direction: 'down' },
      { randomSeed: seed },
    );
    expect(down).toMatchObject({ width: 704, height: 576, pan: 'down' });
    const wide = { ...grid, request: { ...gridRequest, width: 1536, height: 640 } };
    const refused = refusal(() =>
      requestForAction(
        wide,
        { action: 'pan', jobId: JOB, index: 0, direction: 'left' },
        { randomSeed: seed },
      ),
    );
    expect(refused.message).toMatch(/already 1536 pixels wide/);
    expect(
      requestForAction(wide, { action: 'pan', jobId: JOB, index: 0, direction: 'up' }, { randomSeed: seed }),
    ).toMatchObject({ width: 1536, height: 960 });
  });

  it('inpaints with the new prompt and a parsed region', () => {
    const request = requestForAction(
      grid,
      { action: 'inpaint', jobId: JOB, index: 3 },
      { prompt: ' a red hat ', region: '10%,20%,30%,40%', randomSeed: seed },
    );
    expect(request).toMatchObject({
      mode: 'inpaint',
      prompt: 'a red hat',
      region: { x: 10, y: 20, w: 30, h: 40 },
      initImage: { artifactId: 'art-3' },
      source: { jobId: JOB, index: 3 },
    });
    expect(
      requestForAction(
        grid,
        { action: 'inpaint', jobId: JOB, index: 0 },
        { prompt: 'sky', region: 'background' },
      ).region,
    ).toEqual({ x: 25, y: 25, w: 50, h: 50, invert: true });
  });

  it('makes Vary (Region) an inpaint of the painted mask with the new prompt', () => {
    const request = requestForAction(
      grid,
      { action: 'vary-region', jobId: JOB, index: 1 },
      { prompt: ' a golden sun ', maskImage: 'mask-1', randomSeed: seed },
    );
    expect(request).toMatchObject({
      mode: 'inpaint',
      prompt: 'a golden sun',
      maskImage: { artifactId: 'mask-1' },
      initImage: { artifactId: 'art-1' },
      source: { jobId: JOB, index: 1 },
      strength: 1,
    });
    expect(request.region).toBeUndefined();
    const error = refusal(() =>
      requestForAction(grid, { action: 'vary-region', jobId: JOB, index: 0 }, { prompt: '' }),
    );
    expect(error.context.fields).toEqual([
      { field: 'prompt', message: 'prompt: required; say what to paint in 1 to 2000 characters' },
      { field: 'mask', message: 'mask: required; paint the part to change in the Vary (Region) editor' },
    ]);
  });

  it('refuses inpaint without a prompt or with a bad region, naming both fields', () => {
    const error = refusal(() =>
      requestForAction(
        grid,
        { action: 'inpaint', jobId: JOB, index: 0 },
        { prompt: ' ', region: '90,0,20,10' },
      ),
    );
    expect(error.context.fields).toEqual([
      { field: 'prompt', message: 'prompt: required; say what to paint in 1 to 2000 characters' },
      { field: 'region', message: 'region: x + w must be at most 100 percent (got 90 + 20)' },
    ]);
    const missing = refusal(() =>
      requestForAction(grid, { action: 'inpaint', jobId: JOB, index: 0 }, { prompt: 'x' }),
    );
    expect(missing.message).toContain('region: required; give center, top, bottom, left, right, background');
    const long = refusal(() =>
      requestForAction(
        grid,
        { action: 'inpaint', jobId: JOB, index: 0 },
        { prompt: 'x'.repeat(2001), region: 'top' },
      ),
    );
    expect(long.message).toBe('prompt: must be at most 2000 characters (got 2001)');
  });

  it('refuses an image the job does not have, and a job without images', () => {
    const two: SourceJob = { request: { ...gridRequest, count: 2 }, result: result([image(0), image(1)]) };
    const error = refusal(() =>
      requestForAction(two, { action: 'upscale', jobId: JOB, index: 3, factor: 2 }),
    );
    expect(error.identifier).toBe('not-found');
    expect(error.message).toBe('That job has no image 4; it has 2.');
    expect(
      refusal(() => requestForAction({ request: gridRequest }, { action: 'inpaint', jobId: JOB, index: 0 }))
        .message,
    ).toContain('That job has no images to work on');
  });

  const upscaled: SourceJob = {
    request: { ...gridRequest, mode: 'upscale', count: 1, upscale: 2, initImage: { artifactId: 'art-1' } },
    result: result([image(9, [1408, 768])]),
  };

  it('acts on an upscaled image: a new grid of four at the render size', () => {
    expect(
      requestForAction(
        upscaled,
        { action: 'variation', jobId: JOB, index: 0, level: 'subtle' },
        { randomSeed: seed },
      ),
    ).toMatchObject({
      mode: 'variation',
      width: 704,
      height: 384,
      count: 4,
      initImage: { artifactId: 'art-9' },
    });
    expect(requestForAction(upscaled, { action: 'upscale', jobId: JOB, index: 0, factor: 4 })).toMatchObject({
      mode: 'upscale',
      width: 1408,
      height: 768,
      upscale: 4,
      initImage: { artifactId: 'art-9' },
    });
  });

  it('snaps an off-grid upscale input (from the API) to the render grid for new renders', () => {
    const apiUpscale: SourceJob = {
      request: { ...upscaled.request, width: 500, height: 333 },
      result: result([image(1, [1000, 666])]),
    };
    expect(
      requestForAction(
        apiUpscale,
        { action: 'zoom-out', jobId: JOB, index: 0, zoom: 2 },
        { randomSeed: seed },
      ),
    ).toMatchObject({ width: 512, height: 320 });
  });

  it('refuses to upscale an image already larger than the upscaler takes', () => {
    const big: SourceJob = { ...upscaled, result: result([image(1, [2816, 1536])]) };
    expect(
      refusal(() => requestForAction(big, { action: 'upscale', jobId: JOB, index: 0, factor: 2 })).message,
    ).toBe('scale: this image is already 2816x1536; easel upscales images of at most 1536 pixels a side');
  });
});

describe('resultButtonRows', () => {
  it('puts U1-U4 and Reroll, then V1-V4, under a grid', () => {
    const rows = resultButtonRows({ jobId: JOB, request: gridRequest, result: grid.result! });
    expect(rows.map((row) => row.map((b) => b.label))).toEqual([
      ['U1', 'U2', 'U3', 'U4', 'Reroll'],
      ['V1', 'V2', 'V3', 'V4'],
    ]);
    expect(decodeActionId(rows[0]![1]!.actionId)).toEqual({
      action: 'upscale',
      jobId: JOB,
      index: 1,
      factor: 2,
    });
    expect(decodeActionId(rows[1]![3]!.actionId)).toEqual({
      action: 'variation',
      jobId: JOB,
      index: 3,
      level: 'strong',
    });
  });

  it('has as many U and V buttons as images', () => {
    const rows = resultButtonRows({
      jobId: JOB,
      request: { ...gridRequest, count: 1 },
      result: result([image(0)]),
    });
    expect(rows.map((row) => row.map((b) => b.label))).toEqual([['U1', 'Reroll'], ['V1']]);
  });

  it('offers vary, inpaint, zoom out and further upscales under an upscaled image', () => {
    const rows = resultButtonRows({
      jobId: JOB,
      request: upscaledRequest(),
      result: result([image(0, [1408, 768])]),
    });
    expect(rows.map((row) => row.map((b) => b.label))).toEqual([
      ['Vary (Subtle)', 'Vary (Strong)', 'Vary (Region)', 'Inpaint'],
      ['Zoom Out 1.5x', 'Zoom Out 2x'],
      ['⬅️', '➡️', '⬆️', '⬇️'],
      ['Upscale 2x', 'Upscale 4x'],
    ]);
    const tooBig = resultButtonRows({
      jobId: JOB,
      request: upscaledRequest(),
      result: result([image(0, [2816, 1536])]),
    });
    expect(tooBig.flat().map((b) => b.label)).not.toContain('Upscale 2x');
  });
});

function upscaledRequest(): GenerationRequest {
  return { ...gridRequest, mode: 'upscale', count: 1, upscale: 2 };
}
