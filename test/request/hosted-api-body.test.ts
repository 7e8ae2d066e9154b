import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/models/registry.ts';
import { fromHostedApiBody } from '../../src/request/hosted-api-body.ts';
import { type ValidationContext, validateRequest } from '../../src/request/validate-request.ts';

const ctx: ValidationContext = { registry: loadRegistry(), defaultModel: 'sd-1.5', randomSeed: () => 5 };

describe('fromHostedApiBody', () => {
  it('reads the hosted APIs field names, numbers given as text included', () => {
    const result = validateRequest(
      fromHostedApiBody({
        key: 'ignored',
        prompt: 'a lighthouse',
        negative_prompt: 'boats',
        width: '768',
        height: 512,
        samples: '2',
        num_inference_steps: '30',
        guidance_scale: '7.5',
        seed: '123',
        scheduler: 'DPMSolverMultistepScheduler',
        model_id: 'sd15',
        webhook: null,
        track_id: null,
      }),
      ctx,
    );
    expect(result).toEqual({
      ok: true,
      request: {
        mode: 'txt2img',
        prompt: 'a lighthouse',
        negativePrompt: 'boats',
        model: 'sd-1.5',
        width: 768,
        height: 512,
        steps: 30,
        guidance: 7.5,
        sampler: 'DPMSolverMultistepScheduler',
        seed: 123,
        count: 2,
      },
    });
  });

  it('reads img_width / img_height, model and aspect_ratio', () => {
    const sized = validateRequest(fromHostedApiBody({ prompt: 'x', img_width: 640, img_height: '384' }), ctx);
    expect(sized.ok && [sized.request.width, sized.request.height]).toEqual([640, 384]);
    const aspect = validateRequest(
      fromHostedApiBody({ prompt: 'x', aspect_ratio: '16:9', model: 'mini' }),
      ctx,
    );
    expect(aspect.ok && aspect.request).toMatchObject({ width: 704, height: 384, model: 'easel-mini' });
  });

  it('treats null, empty strings and seed 0 as absent', () => {
    const result = validateRequest(
      fromHostedApiBody({ prompt: 'x', seed: null, width: '', negative_prompt: null, samples: null }),
      ctx,
    );
    expect(result.ok && result.request).toMatchObject({ seed: 5, width: 512, negativePrompt: '', count: 1 });
    const zero = validateRequest(fromHostedApiBody({ prompt: 'x', seed: 0 }), ctx);
    expect(zero.ok && zero.request.seed).toBe(5);
  });

  it('passes strength for img2img and names bad values by their JSON keys', () => {
    const raw = fromHostedApiBody({ prompt: 'x', strength: '0.4' });
    raw.initImage = { artifactId: 'img' };
    const ok = validateRequest(raw, { ...ctx, mode: 'img2img' });
    expect(ok.ok && ok.request.strength).toBe(0.4);

    const bad = validateRequest(
      fromHostedApiBody({
        prompt: 'x',
        samples: 9,
        num_inference_steps: '12abc',
        guidance_scale: 25,
        seed: -1,
        scheduler: 'DPM fast',
      }),
      ctx,
    );
    expect(bad.ok ? [] : bad.errors.map((e) => e.field)).toEqual([
      'seed',
      'samples',
      'guidance_scale',
      'num_inference_steps',
      'scheduler',
    ]);
    expect(bad.ok ? '' : bad.errors[3]!.message).toBe(
      'num_inference_steps: must be a whole number from 1 to 150 for sd-1.5 (got "12abc")',
    );
  });

  it('refuses width and img_width that disagree, and accepts them when equal', () => {
    const bad = validateRequest(fromHostedApiBody({ prompt: 'x', width: 512, img_width: 768 }), ctx);
    expect(bad.ok ? [] : bad.errors.map((e) => e.message)).toEqual([
      'width: conflicts with img_width (512 vs 768); send one of them',
    ]);
    const same = validateRequest(fromHostedApiBody({ prompt: 'x', width: 512, img_width: '512' }), ctx);
    expect(same.ok).toBe(true);
  });

  it('says prompt is required under its JSON name', () => {
    const result = validateRequest(fromHostedApiBody({ negative_prompt: 'x' }), ctx);
    expect(result.ok ? [] : result.errors).toEqual([
      { field: 'prompt', message: 'prompt: required; describe the image in 1 to 2000 characters' },
    ]);
  });

  it('refuses a body that is not a JSON object', () => {
    for (const body of [null, [], 'prompt', 42]) {
      const result = validateRequest(fromHostedApiBody(body), ctx);
      expect(result.ok ? '' : result.errors[0]!.message).toMatch(/^body: must be a JSON object/);
    }
  });
});
