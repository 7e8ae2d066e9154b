import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/models/registry.ts';
import { fromDiscordOptions } from '../../src/request/discord-options.ts';
import { type ValidationContext, validateRequest } from '../../src/request/validate-request.ts';

const ctx: ValidationContext = { registry: loadRegistry(), defaultModel: 'sd-1.5', randomSeed: () => 9 };

describe('fromDiscordOptions', () => {
  it('takes every typed option', () => {
    const result = validateRequest(
      fromDiscordOptions({
        prompt: 'a lighthouse',
        negative: 'fog',
        aspect: '2:3',
        seed: 42,
        steps: 20,
        guidance: 5,
        sampler: 'Euler a',
        model: 'sd-1.5',
        count: 3,
      }),
      ctx,
    );
    expect(result).toEqual({
      ok: true,
      request: {
        mode: 'txt2img',
        prompt: 'a lighthouse',
        negativePrompt: 'fog',
        model: 'sd-1.5',
        width: 448,
        height: 640,
        steps: 20,
        guidance: 5,
        sampler: 'euler_a',
        seed: 42,
        count: 3,
      },
    });
  });

  it('still reads flags typed inside the prompt option', () => {
    const result = validateRequest(fromDiscordOptions({ prompt: 'a cat \u2014ar 16:9', seed: 7 }), ctx);
    expect(result.ok && result.request).toMatchObject({ prompt: 'a cat', width: 704, height: 384, seed: 7 });
  });

  it('names options by their Discord names in messages', () => {
    const result = validateRequest(fromDiscordOptions({ prompt: 'a cat', count: 9, guidance: 30 }), ctx);
    expect(result.ok ? [] : result.errors.map((e) => e.message)).toEqual([
      'count: must be a whole number from 1 to 4 (got 9)',
      'guidance: must be a number from 0 to 20 (got 30)',
    ]);
  });

  it('refuses a value given both as an option and as a flag', () => {
    const result = validateRequest(fromDiscordOptions({ prompt: 'a cat --seed 3', seed: 4 }), ctx);
    expect(result.ok ? [] : result.errors).toEqual([
      { field: 'seed', message: 'seed: given both as the seed option and as --seed in the prompt; use one' },
    ]);
  });

  it('asks for a prompt when the option holds only flags', () => {
    const result = validateRequest(fromDiscordOptions({ prompt: '--ar 1:1' }), ctx);
    expect(result.ok ? '' : result.errors[0]!.message).toContain('prompt: required');
  });
});
