import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/models/registry.ts';
import { fromHostedApiBody } from '../../src/request/hosted-api-body.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import type { RawRequest } from '../../src/request/raw-request.ts';
import {
  invalidRequestError,
  type ValidationContext,
  type ValidationResult,
  validateRequest,
} from '../../src/request/validate-request.ts';

const registry = loadRegistry();
const ctx: ValidationContext = { registry, defaultModel: 'sd-1.5', randomSeed: () => 777 };

function validate(text: string, extra: Partial<ValidationContext> = {}): ValidationResult {
  return validateRequest(parsePromptFlags(text), { ...ctx, ...extra });
}

function accepted(result: ValidationResult) {
  if (!result.ok) throw new Error(`expected a valid request, got ${JSON.stringify(result.errors)}`);
  return result.request;
}

function messages(result: ValidationResult): string[] {
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.request)}`);
  return result.errors.map((e) => e.message);
}

describe('validateRequest: accepted requests', () => {
  it('fills the defaults from the registry entry of the default model', () => {
    expect(accepted(validate('a lighthouse'))).toEqual({
      mode: 'txt2img',
      prompt: 'a lighthouse',
      negativePrompt: '',
      model: 'sd-1.5',
      width: 512,
      height: 512,
      steps: 25,
      guidance: 7.5,
      sampler: 'dpmpp_2m_karras',
      seed: 777,
      count: 1,
    });
  });

  it('turns every flag into the normalized request', () => {
    const request = accepted(
      validate('a cat --ar 16:9 --seed 42 --no "blurry, text" --steps 30 --cfg 6.5 --sampler Euler a --n 4'),
    );
    expect(request).toMatchObject({
      prompt: 'a cat',
      negativePrompt: 'blurry, text',
      width: 704,
      height: 384,
      seed: 42,
      steps: 30,
      guidance: 6.5,
      sampler: 'euler_a',
      count: 4,
    });
  });

  it('resolves a model alias to its registry id and uses that model defaults', () => {
    expect(accepted(validate('a red circle --model shapes'))).toMatchObject({
      model: 'easel-mini',
      steps: 25,
      guidance: 1.5,
      sampler: 'ddim',
    });
    expect(accepted(validate('a cat --model TURBO'))).toMatchObject({
      model: 'sd-turbo',
      steps: 1,
      guidance: 0,
    });
  });

  it('validates display sizes for a model that renders smaller (renderScale 16)', () => {
    const raw = parsePromptFlags('a red circle --model mini');
    raw.width = 1024;
    raw.height = '1536';
    expect(accepted(validateRequest(raw, ctx))).toMatchObject({ width: 1024, height: 1536 });
  });

  it('draws a random seed with crypto when the seed is 0 or absent, and reports it', () => {
    const seeds = new Set<number>();
    for (const text of ['a cat', 'a cat --seed 0', 'a cat', 'a cat --seed 0']) {
      const { seed } = accepted(
        validateRequest(parsePromptFlags(text), { registry, defaultModel: 'sd-1.5' }),
      );
      expect(Number.isSafeInteger(seed)).toBe(true);
      expect(seed).toBeGreaterThan(0);
      seeds.add(seed);
    }
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('keeps an explicit seed, up to the largest safe integer', () => {
    expect(accepted(validate('a cat --seed 9007199254740991')).seed).toBe(9007199254740991);
    expect(accepted(validate('a cat --seed 1')).seed).toBe(1);
  });

  it('makes an attached image an img2img request with a default strength', () => {
    const raw = parsePromptFlags('a cat as a painting');
    raw.initImage = { artifactId: 'a1' };
    expect(accepted(validateRequest(raw, ctx))).toMatchObject({
      mode: 'img2img',
      initImage: { artifactId: 'a1' },
      strength: 0.75,
    });
    const withStrength = parsePromptFlags('a cat --strength 0.3');
    withStrength.initImage = { artifactId: 'a1' };
    expect(accepted(validateRequest(withStrength, ctx)).strength).toBe(0.3);
  });

  it('accepts an inpaint request with a region in text', () => {
    const raw = parsePromptFlags('a hat');
    raw.initImage = { artifactId: 'a1' };
    raw.region = 'top';
    expect(accepted(validateRequest(raw, { ...ctx, mode: 'inpaint' }))).toMatchObject({
      mode: 'inpaint',
      region: { x: 0, y: 0, w: 100, h: 50 },
      strength: 1,
    });
  });

  it('accepts an upscale of an image of any size, without a prompt', () => {
    const raw: RawRequest = {
      labels: {},
      errors: [],
      initImage: { artifactId: 'a1' },
      width: 500,
      height: 333,
    };
    raw.upscale = '4';
    expect(accepted(validateRequest(raw, { ...ctx, mode: 'upscale' }))).toMatchObject({
      mode: 'upscale',
      prompt: '',
      width: 500,
      height: 333,
      upscale: 4,
    });
  });

  it('lets member limits lower the default steps instead of refusing', () => {
    expect(accepted(validate('a cat', { limits: { maxSteps: 10 } })).steps).toBe(10);
  });
});

/** Every bad input issue 2 names: the message names the field and the allowed range. */
const BAD: [string, string, string, string[]][] = [
  ['empty prompt', '   ', 'prompt', ['prompt: required', '1 to 2000 characters']],
  ['only flags, no prompt', '--ar 16:9', 'prompt', ['prompt: required']],
  ['unknown flag', 'a cat --chaos 50', '--chaos', ['--chaos: unknown flag', '--ar', '--strength']],
  ['flag without value', 'a cat --steps', '--steps', ['--steps: needs a value']],
  ['--ar 0:1', 'a cat --ar 0:1', '--ar', ['--ar: must be one of 1:1, 16:9, 9:16', '21:9, 9:21', '"0:1"']],
  ['--ar 100:1', 'a cat --ar 100:1', '--ar', ['--ar: must be one of', '"100:1"']],
  ['--ar abc', 'a cat --ar abc', '--ar', ['--ar: must be one of', '"abc"']],
  ['seed -1', 'a cat --seed -1', '--seed', ['--seed: must be a whole number from 0 to 9007199254740991']],
  [
    'seed 2^53',
    'a cat --seed 9007199254740992',
    '--seed',
    ['from 0 to 9007199254740991', '9007199254740992'],
  ],
  ['seed 12abc', 'a cat --seed 12abc', '--seed', ['from 0 to 9007199254740991', '(got "12abc")']],
  ['seed 1.5', 'a cat --seed 1.5', '--seed', ['--seed: must be a whole number from 0 to', '"1.5"']],
  ['--n 0', 'a cat --n 0', '--n', ['--n: must be a whole number from 1 to 4 (got "0")']],
  ['--n 9', 'a cat --n 9', '--n', ['--n: must be a whole number from 1 to 4 (got "9")']],
  ['guidance 25', 'a cat --cfg 25', '--cfg', ['--cfg: must be a number from 0 to 20 (got "25")']],
  ['steps 0', 'a cat --steps 0', '--steps', ['--steps: must be a whole number from 1 to 150 for sd-1.5']],
  ['steps 1000', 'a cat --steps 1000', '--steps', ['from 1 to 150 for sd-1.5 (got "1000")']],
  [
    'unknown sampler',
    'a cat --sampler dpm_fast',
    '--sampler',
    ['--sampler: must be one of euler, euler_a', 'dpmpp_2m_sde_karras', '"dpm_fast"'],
  ],
  [
    'prompt of 10,000 characters',
    'x'.repeat(10_000),
    'prompt',
    ['prompt: must be at most 2000 characters (got 10000)'],
  ],
  [
    'unknown model',
    'a cat --model xyz',
    '--model',
    ['--model: Model id not found: xyz. Available: easel-mini, sd-1.5'],
  ],
  [
    'strength above 1',
    'a cat --strength 1.5',
    '--strength',
    ['--strength: only applies when you start from an image'],
  ],
];

describe('validateRequest: every bad input gets a message naming the field and the range', () => {
  it.each(BAD)('%s', (_name, text, field, parts) => {
    const result = validate(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]!.field).toBe(field);
    for (const part of parts) expect(result.errors[0]!.message).toContain(part);
  });

  it.each([
    [1000, 'width: must be a multiple of 64 from 320 to 1536 (got 1000)'],
    [64, 'width: must be a multiple of 64 from 320 to 1536 (got 64)'],
    [4096, 'width: must be a multiple of 64 from 320 to 1536 (got 4096)'],
    ['12abc', 'width: must be a multiple of 64 from 320 to 1536 (got "12abc")'],
  ])('width %s', (width, message) => {
    expect(messages(validateRequest(fromHostedApiBody({ prompt: 'a cat', width }), ctx))).toEqual([message]);
  });

  it('refuses --ar together with an explicit width and height, naming both', () => {
    const raw = parsePromptFlags('a cat --ar 16:9');
    raw.width = 1024;
    raw.height = 512;
    expect(messages(validateRequest(raw, ctx))).toEqual([
      '--ar: "16:9" conflicts with width 1024 and height 512; give an aspect ratio (1:1, 16:9, 9:16, 2:3, 3:2, 4:5, 5:4, 21:9, 9:21) or a size, not both',
    ]);
  });

  it('refuses a strength out of 0..1 when it applies', () => {
    const raw = parsePromptFlags('a cat --strength 1.5');
    raw.initImage = { artifactId: 'a1' };
    expect(messages(validateRequest(raw, ctx))).toEqual([
      '--strength: must be a number from 0 to 1 (got "1.5")',
    ]);
  });

  it('names every bad field at once', () => {
    const result = validate(
      'a cat --ar 0:1 --seed 12abc --n 9 --cfg 25 --steps 1000 --sampler dpm_fast --wat 1',
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.field).sort()).toEqual(
      ['--ar', '--cfg', '--n', '--sampler', '--seed', '--steps', '--wat'].sort(),
    );
  });

  it('checks steps against each model limits', () => {
    expect(messages(validate('a cat --model turbo --steps 8'))).toEqual([
      '--steps: must be a whole number from 1 to 4 for sd-turbo (got "8")',
    ]);
  });

  it('applies member limits on steps and pixels, saying they are the member limits', () => {
    expect(messages(validate('a cat --steps 40', { limits: { maxSteps: 30 } }))).toEqual([
      '--steps: must be a whole number from 1 to 30 (your limit; sd-1.5 allows up to 150) (got "40")',
    ]);
    const big = fromHostedApiBody({ prompt: 'a cat', width: 1024, height: 1024 });
    expect(messages(validateRequest(big, { ...ctx, limits: { maxPixels: 512 * 512 } }))).toEqual([
      'width: 1024x1024 is 1048576 pixels, over your limit of 262144 pixels (512x512 fits)',
    ]);
  });

  it('refuses a negative prompt over 2000 characters', () => {
    expect(messages(validate(`a cat --no ${'y'.repeat(2001)}`))).toEqual([
      '--no: must be at most 2000 characters (got 2001)',
    ]);
  });

  it('refuses image modes without an image and inpaint without a mask or region', () => {
    expect(messages(validate('a cat', { mode: 'img2img' }))).toEqual([
      'image: required for img2img: attach an image',
    ]);
    const raw = parsePromptFlags('a hat');
    raw.initImage = { artifactId: 'a1' };
    expect(messages(validateRequest(raw, { ...ctx, mode: 'inpaint' }))).toEqual([
      'mask: required for inpaint: a mask image or a region to repaint',
    ]);
    raw.region = 'the hat';
    expect(messages(validateRequest(raw, { ...ctx, mode: 'inpaint' }))[0]).toContain(
      'region: must be center, top, bottom, left, right, background, or x,y,w,h',
    );
  });

  it('refuses an upscale without its size or with a factor other than 2 or 4', () => {
    const raw: RawRequest = { labels: {}, errors: [], initImage: { artifactId: 'a1' }, upscale: 3 };
    expect(messages(validateRequest(raw, { ...ctx, mode: 'upscale' }))).toEqual([
      'width: required: the width of the image, from 64 to 1536',
      'height: required: the height of the image, from 64 to 1536',
      'scale: must be 2 or 4 (got 3)',
    ]);
  });

  it('treats a default model missing from the registry as the operator mistake', () => {
    expect(() => validate('a cat', { defaultModel: 'gone' })).toThrow(
      /Default model "gone" is not in the registry/,
    );
  });
});

describe('invalidRequestError', () => {
  it('uses model-not-found when the model is the only problem, invalid-request otherwise', () => {
    const unknownModel = validate('a cat --model xyz');
    if (unknownModel.ok) throw new Error('expected errors');
    const error = invalidRequestError(unknownModel.errors);
    expect(error.identifier).toBe('model-not-found');
    expect(error.message).toContain('Model id not found: xyz');
    expect(error.context.fields).toEqual(unknownModel.errors);

    const several = validate('a cat --model xyz --n 9');
    if (several.ok) throw new Error('expected errors');
    const both = invalidRequestError(several.errors);
    expect(both.identifier).toBe('invalid-request');
    expect(both.message.split('\n')).toHaveLength(2);
  });
});

describe('validateRequest: regions', () => {
  function inpaint(region: unknown, mode: 'inpaint' | 'img2img' = 'inpaint'): ValidationResult {
    const raw = parsePromptFlags('a hat');
    raw.initImage = { artifactId: 'a1' };
    raw.region = region;
    return validateRequest(raw, { ...ctx, mode });
  }

  it('accepts a region object from a frontend that drew one', () => {
    expect(accepted(inpaint({ x: 10, y: 10, w: 20, h: 20 })).region).toEqual({ x: 10, y: 10, w: 20, h: 20 });
  });

  it('refuses malformed region objects and values of other types', () => {
    expect(messages(inpaint({ x: 10, y: 10, w: 'wide', h: 20 }))).toEqual([
      'region: w must be a number from 0 to 100 percent (got "wide")',
    ]);
    expect(messages(inpaint({ x: 10, y: 10 }))).toEqual([
      'region: w must be a number from 0 to 100 percent (got nothing)',
    ]);
    expect(messages(inpaint(42))[0]).toContain('region: must be center, top, bottom');
  });

  it('refuses a region outside inpaint', () => {
    expect(messages(inpaint('top', 'img2img'))).toEqual(['region: only applies to inpaint; leave it out']);
  });
});
