import { describe, expect, it } from 'vitest';
import { KNOWN_FLAGS, parsePromptFlags } from '../../src/request/prompt-flags.ts';

describe('parsePromptFlags', () => {
  it('reads every flag and keeps the text before the first flag as the prompt', () => {
    const raw = parsePromptFlags(
      'a lighthouse on a cliff --ar 16:9 --seed 42 --no boats --steps 30 --cfg 7.5 --sampler euler_a --model sd-1.5 --n 4 --strength 0.6',
    );
    expect(raw.errors).toEqual([]);
    expect(raw).toMatchObject({
      prompt: 'a lighthouse on a cliff',
      aspect: '16:9',
      seed: '42',
      negativePrompt: 'boats',
      steps: '30',
      guidance: '7.5',
      sampler: 'euler_a',
      model: 'sd-1.5',
      count: '4',
      strength: '0.6',
    });
    expect(raw.labels).toMatchObject({
      aspect: '--ar',
      guidance: '--cfg',
      count: '--n',
      negativePrompt: '--no',
    });
  });

  it('runs an unquoted value up to the next flag, so --no and multi-word samplers need no quotes', () => {
    const raw = parsePromptFlags('a cat --no blurry, low quality, text --sampler Euler a --seed 7');
    expect(raw.errors).toEqual([]);
    expect(raw.negativePrompt).toBe('blurry, low quality, text');
    expect(raw.sampler).toBe('Euler a');
    expect(raw.seed).toBe('7');
  });

  it('takes quoted values in straight, single and curly quotes, and ignores flag-like text inside them', () => {
    expect(parsePromptFlags('a cat --no "blurry, text" --seed 1').negativePrompt).toBe('blurry, text');
    expect(parsePromptFlags("a cat --no 'dogs --ar 2:3'").negativePrompt).toBe('dogs --ar 2:3');
    expect(parsePromptFlags('a cat --no \u201cphone quotes\u201d').negativePrompt).toBe('phone quotes');
    expect(parsePromptFlags('a cat --no \u2018single\u2019 --n 2').negativePrompt).toBe('single');
    expect(parsePromptFlags('a cat --no "dogs --ar 2:3"').aspect).toBeUndefined();
  });

  it('accepts the em dash and en dash phones type instead of --', () => {
    const raw = parsePromptFlags('a cat \u2014ar 9:16 \u2013seed 5 \u2014no rain');
    expect(raw.errors).toEqual([]);
    expect(raw).toMatchObject({ prompt: 'a cat', aspect: '9:16', seed: '5', negativePrompt: 'rain' });
  });

  it('leaves dashes in prose alone: an em dash before a word that is no flag, -- followed by a space, a-b', () => {
    const raw = parsePromptFlags('a cat \u2014sleeping -- quietly, a well-lit room--bright');
    expect(raw.errors).toEqual([]);
    expect(raw.prompt).toBe('a cat \u2014sleeping -- quietly, a well-lit room--bright');
  });

  it('accepts --flag=value and flag names in any case', () => {
    const raw = parsePromptFlags('a cat --seed=42 --AR 1:1 --Steps=20');
    expect(raw.errors).toEqual([]);
    expect(raw).toMatchObject({ seed: '42', aspect: '1:1', steps: '20' });
  });

  it('accepts --aspect as Midjourney does', () => {
    expect(parsePromptFlags('a cat --aspect 3:2').aspect).toBe('3:2');
  });

  it('names an unknown flag and lists the known ones', () => {
    const raw = parsePromptFlags('a cat --v 6 --seed 3');
    expect(raw.errors).toHaveLength(1);
    expect(raw.errors[0]!.field).toBe('--v');
    expect(raw.errors[0]!.message).toContain('--v: unknown flag');
    for (const flag of KNOWN_FLAGS) expect(raw.errors[0]!.message).toContain(flag);
    expect(raw.seed).toBe('3');
  });

  it('refuses a flag without a value: at the end, before another flag, and after =', () => {
    for (const text of ['a cat --seed', 'a cat --seed --ar 1:1', 'a cat --seed=', 'a cat --seed ""']) {
      const raw = parsePromptFlags(text);
      expect(raw.errors, text).toEqual([
        { field: '--seed', message: '--seed: needs a value, e.g. --seed 42' },
      ]);
    }
    expect(parsePromptFlags('a cat --no').errors[0]!.message).toBe(
      '--no: needs a value, e.g. --no blurry, text',
    );
  });

  it('refuses a flag given twice, also under its alias', () => {
    expect(parsePromptFlags('a cat --seed 1 --seed 2').errors[0]!.message).toBe(
      '--seed: given more than once (also as --seed)',
    );
    expect(parsePromptFlags('a cat --ar 1:1 --aspect 2:3').errors[0]!.message).toContain(
      '--aspect: given more',
    );
  });

  it('refuses an unclosed quote and text after a closing quote', () => {
    expect(parsePromptFlags('a cat --no "blurry --seed 4').errors[0]!.message).toBe(
      '--no: the quote opened with " is never closed',
    );
    expect(parsePromptFlags('a cat --no "blurry" text --seed 4').errors[0]!.message).toContain(
      '--no: unexpected text after the quoted value: "text"',
    );
  });

  it('gives an empty prompt when the text is only flags', () => {
    const raw = parsePromptFlags('--ar 16:9 --seed 1');
    expect(raw.prompt).toBe('');
    expect(raw.aspect).toBe('16:9');
  });

  it('reports every problem at once', () => {
    const raw = parsePromptFlags('a cat --foo 1 --seed --bar');
    expect(raw.errors.map((e) => e.field)).toEqual(['--foo', '--seed', '--bar']);
  });
});

describe('parsePromptFlags on hostile input', () => {
  it('reads thousands of unclosed quotes in linear time', () => {
    // 3,000 unclosed quotes: scanning to the end for each took about half a second; linear, a few ms.
    const text = 'a --no \u201c'.repeat(3000);
    const started = performance.now();
    const raw = parsePromptFlags(text);
    expect(performance.now() - started).toBeLessThan(200);
    expect(raw.errors[0]!.message).toBe('--no: the quote opened with \u201c is never closed');
  });

  it('lists the first 10 flag problems and counts the rest', () => {
    const raw = parsePromptFlags(`a cat ${'--x 1 '.repeat(25)}`);
    expect(raw.errors).toHaveLength(11);
    expect(raw.errors[10]).toEqual({
      field: 'flags',
      message: 'flags: 15 more problems like the ones above; check the flags after the prompt',
    });
  });
});
