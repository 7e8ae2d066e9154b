import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ApiError, invalidKey } from '../../src/api/api-error.ts';
import { a1111Info, a1111Parameters, jobTimestamp } from '../../src/api/faces/a1111/a1111-answer.ts';
import { a1111Error } from '../../src/api/faces/a1111/a1111-errors.ts';
import { a1111Samplers, a1111Schedulers } from '../../src/api/faces/a1111/a1111-listings.ts';
import { parseInfotext, pngInfo } from '../../src/api/faces/a1111/a1111-png-info.ts';
import { fromA1111Body } from '../../src/api/faces/a1111/a1111-request.ts';
import { a1111Mask } from '../../src/api/faces/face-masks.ts';
import { formatInfotext } from '../../src/engine/infotext.ts';
import { withPngText } from '../../src/engine/png-text.ts';
import { loadRegistry } from '../../src/models/registry.ts';
import { resolveSampler } from '../../src/request/sampler-names.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { type ValidationContext, validateRequest } from '../../src/request/validate-request.ts';

/**
 * AUTOMATIC1111's bodies and answers, without a server: what each field of its API models becomes
 * in easel's request, and the answer fields its clients read.
 */

const ctx: ValidationContext = { registry: loadRegistry(), defaultModel: 'sd-1.5', randomSeed: () => 5 };

/** The body `webuiapi.WebUIApi().txt2img(prompt=...)` posts: every field, with its defaults. */
function webuiapiTxt2img(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enable_hr: false,
    hr_scale: 2,
    hr_upscaler: 'Latent',
    hr_second_pass_steps: 0,
    hr_resize_x: 0,
    hr_resize_y: 0,
    hr_checkpoint_name: null,
    hr_sampler_name: null,
    hr_scheduler: null,
    hr_prompt: '',
    hr_negative_prompt: '',
    denoising_strength: 0.7,
    firstphase_width: 0,
    firstphase_height: 0,
    prompt: 'a lighthouse at dusk',
    styles: [],
    seed: -1,
    subseed: -1,
    subseed_strength: 0.0,
    seed_resize_from_h: 0,
    seed_resize_from_w: 0,
    batch_size: 1,
    n_iter: 1,
    steps: 20,
    cfg_scale: 7.0,
    width: 512,
    height: 512,
    restore_faces: false,
    tiling: false,
    do_not_save_samples: false,
    do_not_save_grid: false,
    negative_prompt: '',
    eta: 1.0,
    s_churn: 0,
    s_tmax: 0,
    s_tmin: 0,
    s_noise: 1,
    override_settings: {},
    override_settings_restore_afterwards: true,
    sampler_name: 'Euler a',
    scheduler: 'automatic',
    sampler_index: 'Euler a',
    script_name: null,
    script_args: [],
    send_images: true,
    save_images: false,
    alwayson_scripts: {},
    ...overrides,
  };
}

function validated(body: Record<string, unknown>, mode: 'txt2img' | 'img2img' = 'txt2img') {
  const generation = fromA1111Body(body, mode);
  if (generation.initImage) generation.raw.initImage = { artifactId: 'pending' };
  if (generation.mask) generation.raw.maskImage = { artifactId: 'pending-mask' };
  return { generation, result: validateRequest(generation.raw, ctx) };
}

describe('AUTOMATIC1111 request bodies', () => {
  it("reads webuiapi's full default txt2img body, ignoring the hires fix's neutral denoising_strength", () => {
    const { result } = validated(webuiapiTxt2img({ negative_prompt: 'fog', steps: 12, cfg_scale: 5.5 }));
    expect(result).toEqual({
      ok: true,
      request: {
        mode: 'txt2img',
        prompt: 'a lighthouse at dusk',
        negativePrompt: 'fog',
        model: 'sd-1.5',
        width: 512,
        height: 512,
        steps: 12,
        guidance: 5.5,
        sampler: 'euler_a',
        seed: 5,
        count: 1,
      },
    });
  });

  it('keeps a given seed, multiplies batch_size by n_iter and takes the checkpoint from override_settings', () => {
    const { result } = validated(
      webuiapiTxt2img({
        seed: 1234,
        batch_size: 2,
        n_iter: 2,
        override_settings: { sd_model_checkpoint: 'sd15' },
      }),
    );
    expect(result.ok && result.request).toMatchObject({ seed: 1234, count: 4, model: 'sd-1.5' });
  });

  it('combines sampler_name with scheduler "karras" into the Karras sampler, and reads sampler_index alone', () => {
    const karras = validated(webuiapiTxt2img({ sampler_name: 'DPM++ 2M', scheduler: 'karras' })).result;
    expect(karras.ok && karras.request.sampler).toBe('dpmpp_2m_karras');
    const legacy = validated(
      webuiapiTxt2img({ sampler_name: null, scheduler: null, sampler_index: 'DDIM' }),
    ).result;
    expect(legacy.ok && legacy.request.sampler).toBe('ddim');
    const named = validated(webuiapiTxt2img({ sampler_name: 'DPM++ 2M Karras', scheduler: 'karras' })).result;
    expect(named.ok && named.request.sampler).toBe('dpmpp_2m_karras');
  });

  it('refuses what easel cannot honour, each under its own field', () => {
    const { result } = validated(
      webuiapiTxt2img({
        enable_hr: true,
        hr_scale: 9,
        script_name: 'x/y/z plot',
        styles: ['cinematic'],
        scheduler: 'exponential',
        batch_size: 'two',
      }),
    );
    expect(result.ok).toBe(false);
    const fields = !result.ok ? result.errors.map((e) => e.field) : [];
    expect(fields).toEqual(
      expect.arrayContaining(['hr_scale', 'script_name', 'styles', 'scheduler', 'batch_size']),
    );
  });

  it('refuses a Karras schedule for a sampler that has none', () => {
    const { result } = validated(webuiapiTxt2img({ sampler_name: 'Euler a', scheduler: 'karras' }));
    expect(!result.ok && result.errors).toEqual([
      {
        field: 'scheduler',
        message: 'scheduler: easel has no Karras schedule for "Euler a"; use "automatic"',
      },
    ]);
  });

  it('names a field by its A1111 name when the validator refuses it', () => {
    const { result } = validated(webuiapiTxt2img({ steps: 5000, cfg_scale: 'lots', prompt: '' }));
    const fields = !result.ok ? result.errors.map((e) => e.field).sort() : [];
    expect(fields).toEqual(['cfg_scale', 'prompt', 'steps']);
  });

  it('reads img2img with denoising_strength, and a mask as an inpaint with invert and blur', () => {
    const img2img = validated(
      { prompt: 'a boat', init_images: ['data:image/png;base64,AAAA'], denoising_strength: 0.4 },
      'img2img',
    );
    expect(img2img.generation.initImage).toBe('data:image/png;base64,AAAA');
    expect(img2img.result.ok && img2img.result.request).toMatchObject({ mode: 'img2img', strength: 0.4 });

    const inpaint = validated(
      {
        prompt: 'a boat',
        init_images: ['AAAA'],
        mask: 'BBBB',
        mask_blur: 8,
        inpainting_mask_invert: 1,
        inpainting_fill: 1,
        inpaint_full_res: false,
        denoising_strength: 0.75,
      },
      'img2img',
    );
    expect(inpaint.generation).toMatchObject({ mask: 'BBBB', maskBlur: 8, invertMask: true });
    expect(inpaint.result.ok && inpaint.result.request).toMatchObject({ mode: 'inpaint', strength: 0.75 });
  });

  it('refuses two init images, a missing one, and a mask_blur out of range', () => {
    const two = validated({ prompt: 'x', init_images: ['AAAA', 'BBBB'] }, 'img2img').result;
    expect(!two.ok && two.errors.map((e) => e.field)).toEqual(['init_images']);
    const none = validated({ prompt: 'x' }, 'img2img').result;
    expect(!none.ok && none.errors.map((e) => e.field)).toEqual(['init_images']);
    const blur = validated(
      { prompt: 'x', init_images: ['AAAA'], mask: 'BBBB', mask_blur: 500 },
      'img2img',
    ).result;
    expect(!blur.ok && blur.errors.map((e) => e.field)).toEqual(['mask_blur']);
  });

  it('answers without images when send_images is false', () => {
    expect(fromA1111Body(webuiapiTxt2img({ send_images: false }), 'txt2img').sendImages).toBe(false);
    expect(fromA1111Body(webuiapiTxt2img(), 'txt2img').sendImages).toBe(true);
  });
});

describe('AUTOMATIC1111 answers', () => {
  const request: GenerationRequest = {
    mode: 'img2img',
    prompt: 'a lighthouse',
    negativePrompt: 'fog',
    model: 'sd-1.5',
    width: 512,
    height: 512,
    steps: 20,
    guidance: 7,
    sampler: 'dpmpp_2m_karras',
    seed: 11,
    count: 2,
    strength: 0.5,
  };
  const image = (seed: number) => ({
    artifactId: `a${seed}`,
    width: 512,
    height: 512,
    bytes: 1,
    seed,
    nsfw: null,
  });
  const result = {
    v: 1 as const,
    images: [image(11), image(12)],
    seed: 11,
    model: 'sd-1.5',
    provider: 'cpu',
    truncatedWords: [],
    timings: { loadMs: 0, renderMs: 0, totalMs: 0 },
  };

  it('has every field of Processed.js() that clients read, with the render’s values', () => {
    const info = a1111Info({
      request,
      result,
      infotexts: ['one', 'two'],
      createdAt: Date.UTC(2026, 0, 2, 3, 4, 5),
    });
    expect(info).toMatchObject({
      prompt: 'a lighthouse',
      all_prompts: ['a lighthouse', 'a lighthouse'],
      negative_prompt: 'fog',
      all_negative_prompts: ['fog', 'fog'],
      seed: 11,
      all_seeds: [11, 12],
      subseed: -1,
      all_subseeds: [-1, -1],
      subseed_strength: 0,
      width: 512,
      height: 512,
      sampler_name: 'DPM++ 2M Karras',
      cfg_scale: 7,
      steps: 20,
      batch_size: 2,
      restore_faces: false,
      sd_model_name: 'sd-1.5',
      denoising_strength: 0.5,
      extra_generation_params: {},
      index_of_first_image: 0,
      infotexts: ['one', 'two'],
      styles: [],
      job_timestamp: '20260102030405',
      clip_skip: 1,
    });
    expect(JSON.parse(JSON.stringify(info))).toEqual(info);
  });

  it('echoes the request as parameters without the key, and without init images unless asked', () => {
    const body = { key: 'secret', prompt: 'x', init_images: ['AAAA'], mask: 'BBBB' };
    expect(a1111Parameters(body, false)).toEqual({ prompt: 'x', init_images: null, mask: null });
    expect(a1111Parameters(body, true)).toEqual({ prompt: 'x', init_images: ['AAAA'], mask: 'BBBB' });
    expect(jobTimestamp(Date.UTC(2026, 11, 31, 23, 59, 58))).toBe('20261231235958');
  });

  it('lists samplers under names that resolve back to the same sampler, and the two schedules', () => {
    for (const sampler of a1111Samplers()) {
      expect(resolveSampler(sampler.name), sampler.name).toBe(sampler.aliases[0]);
    }
    expect(a1111Samplers().find((s) => s.name === 'DPM++ 2M Karras')?.options).toEqual({
      scheduler: 'karras',
    });
    expect(a1111Schedulers().map((s) => s.name)).toEqual(['automatic', 'karras']);
  });
});

describe('png-info', () => {
  it('reads back the parameters easel writes into its PNGs, parsed as A1111 does', async () => {
    const text = formatInfotext({
      prompt: 'a lighthouse, at dusk',
      negativePrompt: 'fog',
      steps: 20,
      sampler: 'euler_a',
      guidance: 7,
      seed: 42,
      width: 512,
      height: 768,
      model: 'sd-1.5',
    });
    const png = withPngText(
      await sharp({ create: { width: 4, height: 4, channels: 3, background: '#fff' } })
        .png()
        .toBuffer(),
      'parameters',
      text,
    );
    const info = pngInfo(png);
    expect(info.info).toBe(text);
    expect(info.parameters).toEqual({
      Prompt: 'a lighthouse, at dusk',
      'Negative prompt': 'fog',
      Steps: '20',
      Sampler: 'Euler a',
      'CFG scale': '7',
      Seed: '42',
      Size: '512x768',
      'Size-1': '512',
      'Size-2': '768',
      Model: 'sd-1.5',
      Version: 'easel',
    });
    expect(parseInfotext('just a prompt')).toEqual({ Prompt: 'just a prompt', 'Negative prompt': '' });
  });

  it('answers an image without text with empty info', async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    expect(pngInfo(png)).toEqual({ info: '', items: {}, parameters: {} });
  });
});

describe('AUTOMATIC1111 errors', () => {
  it("answers refusals as A1111's middleware does, with Basic auth's challenge on 401", () => {
    const wrongKey = a1111Error(invalidKey());
    expect(wrongKey.statusCode).toBe(401);
    expect(wrongKey.headers['www-authenticate']).toBe('Basic');
    expect(wrongKey.body).toEqual({
      error: 'HTTPException',
      detail: expect.stringContaining('Incorrect username or password'),
      body: '',
      errors: expect.stringMatching(/^401: Incorrect username or password/),
    });
    const limited = a1111Error(ApiError.rateLimited(3, 'Slow down.'));
    expect(limited).toMatchObject({ statusCode: 429, headers: { 'retry-after': '3' } });
    expect(limited.body.detail).toBe('Rate limit exceeded: Slow down.');
  });

  it("answers bad fields with FastAPI's validation shape, one entry per message", () => {
    const answer = a1111Error(
      ApiError.validation([
        { field: 'steps', message: 'steps: too many' },
        { field: 'prompt', message: 'prompt: required' },
      ]),
    );
    expect(answer).toEqual({
      statusCode: 422,
      headers: {},
      body: {
        detail: [
          { loc: ['body', 'steps'], msg: 'steps: too many', type: 'value_error' },
          { loc: ['body', 'prompt'], msg: 'prompt: required', type: 'value_error' },
        ],
      },
    });
  });
});

describe('A1111 masks', () => {
  it('inverts and blurs a mask as inpainting_mask_invert and mask_blur ask', async () => {
    const half = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } })
      .composite([
        { input: { create: { width: 8, height: 16, channels: 3, background: '#fff' } }, left: 0, top: 0 },
      ])
      .png()
      .toBuffer();
    const pixel = async (png: Buffer, x: number) => {
      const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
      return data[8 * info.width * info.channels + x * info.channels];
    };
    const inverted = await a1111Mask(half, { invert: true, blur: 0 });
    expect([await pixel(inverted, 0), await pixel(inverted, 15)]).toEqual([0, 255]);
    const blurred = await a1111Mask(half, { invert: false, blur: 2 });
    const edge = await pixel(blurred, 8);
    expect(edge).toBeGreaterThan(0);
    expect(edge).toBeLessThan(255);
  });
});
