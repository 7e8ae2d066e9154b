import { describe, expect, it } from 'vitest';
import { fieldErrorsFromSchema } from '../../src/api/schema-errors.ts';
import { loadRegistry } from '../../src/models/registry.ts';
import { fromDiscordOptions } from '../../src/request/discord-options.ts';
import { fromHostedApiBody } from '../../src/request/hosted-api-body.ts';
import { describeValue } from '../../src/request/number-values.ts';
import { type ValidationContext, validateRequest } from '../../src/request/validate-request.ts';

/**
 * Values nested far deeper than any stack allows, handed straight to the parsers (the HTTP body
 * parser refuses them earlier, but the parsers must not depend on that): every one is an ordinary
 * field error, never a RangeError.
 */

const ctx: ValidationContext = { registry: loadRegistry(), defaultModel: 'sd-1.5', randomSeed: () => 5 };

/** `[[[...]]]` 10,000 levels deep, built without recursion. */
function deepList(depth = 10_000): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function deepObject(depth = 10_000): unknown {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = { x: value };
  return value;
}

describe('request parsers given 10,000-deep values', () => {
  it('report width and img_width both sent as deep lists as a conflict, not a stack overflow', () => {
    const raw = fromHostedApiBody({ prompt: 'x', width: deepList(), img_width: deepList() });
    expect(raw.errors.map((e) => e.field)).toEqual(['width']);
    expect(raw.errors[0]?.message).toContain('conflicts with img_width (a list vs a list)');
    const result = validateRequest(raw, ctx);
    expect(result.ok).toBe(false);
  });

  it('tell a deep list apart from the same number given under the other name', () => {
    const raw = fromHostedApiBody({ prompt: 'x', height: deepObject(), img_height: 512 });
    expect(raw.errors[0]?.message).toContain('conflicts with img_height (an object vs 512)');
  });

  it('still accept one value under two names when they agree', () => {
    const raw = fromHostedApiBody({ prompt: 'x', width: '512', img_width: 512 });
    expect(raw.errors).toEqual([]);
  });

  it('answer every field of a body made of deep values with a field error', () => {
    const fields = [
      'prompt',
      'negative_prompt',
      'width',
      'height',
      'img_width',
      'img_height',
      'samples',
      'num_inference_steps',
      'guidance_scale',
      'seed',
      'scheduler',
      'model_id',
      'model',
      'aspect_ratio',
      'strength',
    ];
    for (const make of [deepList, deepObject]) {
      const body = Object.fromEntries(fields.map((f) => [f, make()]));
      const raw = fromHostedApiBody(body);
      raw.region = make();
      raw.upscale = make();
      const result = validateRequest({ ...raw, mode: 'inpaint', initImage: { artifactId: 'a' } }, ctx);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.errors.length).toBeGreaterThan(5);
      const upscale = validateRequest({ ...raw, mode: 'upscale' }, ctx);
      expect(upscale.ok).toBe(false);
    }
  });

  it('take deep values from Discord options and schema violations without recursing', () => {
    const raw = fromDiscordOptions({
      prompt: 'x',
      seed: deepList() as number,
      model: deepObject() as string,
    });
    expect(validateRequest(raw, ctx).ok).toBe(false);
    const errors = fieldErrorsFromSchema([
      { keyword: 'type', instancePath: '/width', params: { type: deepList() } },
      { keyword: 'required', instancePath: '', params: { missingProperty: deepList() } },
    ]);
    expect(errors).toHaveLength(2);
  });

  it('describe a deep value by its kind', () => {
    expect(describeValue(deepList())).toBe('a list');
    expect(describeValue(deepObject())).toBe('an object');
  });
});
