import { describe, expect, it } from 'vitest';
import { fromHostedApiBody } from '../../src/request/hosted-api-body.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import type { RawRequest } from '../../src/request/raw-request.ts';
import { validateRequest } from '../../src/request/validate-request.ts';
import { tinyEntry } from '../support/tiny-models.ts';

/** LoRAs, embeddings and clip skip as every frontend writes them, read by the one validator. */
const registry = {
  models: [
    tinyEntry('sd15', { nativeResolution: 512, family: 'sd1' }),
    tinyEntry('xl', { nativeResolution: 1024, family: 'sdxl' }),
  ],
};
const validate = (raw: RawRequest) =>
  validateRequest(raw, { registry, defaultModel: 'sd15', randomSeed: () => 3 });
const messages = (raw: RawRequest) => {
  const result = validate(raw);
  return result.ok ? [] : result.errors.map((e) => e.message);
};

describe('LoRAs in a request', () => {
  it('takes <lora:…> tags out of the prompt, with A1111 defaults, beside the --lora flag', () => {
    const result = validate(
      parsePromptFlags('a castle, <lora:detail:0.6> at dusk <lora:film> --lora style:-1.5'),
    );
    expect(result.ok && result.request.prompt).toBe('a castle, at dusk');
    expect(result.ok && result.request.loras).toEqual([
      { name: 'detail', strength: 0.6 },
      { name: 'film', strength: 1 },
      { name: 'style', strength: -1.5 },
    ]);
    const a1111 = validate(parsePromptFlags('a castle <lora:detail:0.6:0.4>'));
    expect(a1111.ok && a1111.request.loras).toEqual([{ name: 'detail', strength: 0.6 }]);
  });

  it("reads the hosted APIs' lora_model comma list with one strength for all or one each", () => {
    const each = validate(fromHostedApiBody({ prompt: 'a', lora_model: 'a, b', lora_strength: '0.5,0.7' }));
    expect(each.ok && each.request.loras).toEqual([
      { name: 'a', strength: 0.5 },
      { name: 'b', strength: 0.7 },
    ]);
    const all = validate(fromHostedApiBody({ prompt: 'a', lora_model: 'a,b', lora_strength: 0.3 }));
    expect(all.ok && all.request.loras?.map((l) => l.strength)).toEqual([0.3, 0.3]);
    const embeddings = validate(
      fromHostedApiBody({ prompt: 'a', embeddings_model: 'easynegative, badhands', clip_skip: 2 }),
    );
    expect(embeddings.ok && embeddings.request).toMatchObject({
      embeddings: ['easynegative', 'badhands'],
      clipSkip: 2,
    });
  });

  it('refuses bad names, strengths, counts and repeats under the field the member used', () => {
    expect(messages(parsePromptFlags('a <lora:../etc/passwd:1>'))).toEqual([
      'prompt: "../etc/passwd" is not a LoRA name (letters, digits, spaces, "_", "-" and "."; up to 100)',
    ]);
    expect(messages(parsePromptFlags('a <lora:x:lots>'))).toEqual([
      'prompt: the strength of LoRA "x" must be a number from -4 to 4 (got "lots")',
    ]);
    expect(messages(parsePromptFlags('a <lora:x:1> --lora x:0.5'))).toEqual([
      '--lora: LoRA "x" is named twice; name it once with one strength',
    ]);
    expect(messages(parsePromptFlags('a --lora a, b, c, d, e, f'))).toEqual([
      '--lora: at most 5 LoRAs at once (got 6)',
    ]);
    expect(messages(fromHostedApiBody({ prompt: 'a', lora_model: 'a,b,c', lora_strength: '1,2' }))).toEqual([
      'lora_strength: gives 2 strengths for 3 LoRAs; give one for all or one for each',
    ]);
    expect(messages(fromHostedApiBody({ prompt: 'a', lora_strength: '1' }))).toEqual([
      'lora_strength: needs LoRAs to apply to (lora_model)',
    ]);
  });

  it('refuses clip skip out of range and on SDXL, and LoRAs on an upscale', () => {
    expect(messages(parsePromptFlags('a --clipskip 13'))).toEqual([
      '--clipskip: must be a whole number from 1 (the last layer) to 12 (got "13")',
    ]);
    expect(messages(parsePromptFlags('a --clipskip 2 --model xl'))).toEqual([
      '--clipskip: applies to Stable Diffusion 1.x and 2.x models; xl is sdxl, which reads its own layer',
    ]);
    const upscale: RawRequest = {
      ...fromHostedApiBody({ lora_model: 'a', width: 64, height: 64 }),
      mode: 'upscale',
      initImage: { artifactId: 'x' },
    };
    expect(messages(upscale)).toEqual(['lora_model: an upscale uses no LoRAs; leave them out']);
  });
});
