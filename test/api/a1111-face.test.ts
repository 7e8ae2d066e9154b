import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import { computeCost, ratesFromConfig } from '../../src/credits/cost.ts';
import { encodeSafetensors } from '../../src/engine/safetensors/encode-safetensors.ts';
import { writeTinyLora } from '../support/tiny-loras.ts';
import { type AnswerBody, type ApiHarness, startApiHarness } from './api-harness.ts';

/**
 * The AUTOMATIC1111 face end to end, spoken to exactly as the `webuiapi` Python client speaks
 * (mix1009/sdwebuiapi: its paths, its full default bodies, HTTP Basic auth from `set_auth`, images
 * as `data:image/png;base64,` URIs), and every answer field that client reads checked against
 * A1111's API models. The real server, admission on the test Redis, the real worker on the tiny model.
 */

let api: ApiHarness;
let key: string;
let keyId: string;

beforeAll(async () => {
  api = await startApiHarness({ name: 'a1111', workers: true });
  const created = await api.newKey({ credits: 100 });
  key = created.key;
  keyId = created.record.id;
}, 120_000);

afterAll(async () => {
  await api?.close();
});

/** `webuiapi.WebUIApi(username=..., password=key)`: requests' HTTPBasicAuth. */
function basic(password = key, user = 'webui'): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function credits(): Promise<number> {
  return (await api.services.credits.balance(keyMember(keyId))).total;
}

/** What `WebUIApi.txt2img(prompt=..., ...)` posts: every field, its defaults included. */
function txt2imgBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
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
    prompt: 'a red circle on a blue background',
    styles: [],
    seed: -1,
    subseed: -1,
    subseed_strength: 0.0,
    seed_resize_from_h: 0,
    seed_resize_from_w: 0,
    batch_size: 1,
    n_iter: 1,
    steps: 3,
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

/** What `WebUIApi.img2img(images=[...], mask_image=...)` posts. */
function img2imgBody(initImage: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { enable_hr: _a, hr_scale: _b, ...rest } = txt2imgBody();
  return {
    ...rest,
    init_images: [initImage],
    resize_mode: 0,
    denoising_strength: 0.75,
    image_cfg_scale: 1.5,
    mask_blur: 4,
    inpainting_fill: 0,
    inpaint_full_res: true,
    inpaint_full_res_padding: 0,
    inpainting_mask_invert: 0,
    initial_noise_multiplier: 1,
    include_init_images: false,
    ...overrides,
  };
}

/** webuiapi's `b64_img`: a data URI of a PNG. */
async function dataUri(width: number, height: number, colour: string): Promise<string> {
  const png = await sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** What `_to_api_result` does: every image base64-decoded and opened, info parsed from its JSON string. */
async function readLikeWebuiapi(answer: { status: number; body: AnswerBody }) {
  expect(answer.status, JSON.stringify(answer.body).slice(0, 500)).toBe(200);
  const r = answer.body;
  expect(Object.keys(r).sort()).toEqual(['images', 'info', 'parameters']);
  expect(typeof r.info).toBe('string');
  const images = await Promise.all(
    (r.images as string[]).map(async (b64) => {
      const bytes = Buffer.from(b64, 'base64');
      return { bytes, meta: await sharp(bytes).metadata() };
    }),
  );
  return { images, info: JSON.parse(r.info), parameters: r.parameters };
}

describe('txt2img', () => {
  it("answers webuiapi's default body with images, parameters and every info field it reads", async () => {
    const before = await credits();
    const body = txt2imgBody({ negative_prompt: 'blurry', batch_size: 2 });
    const { images, info, parameters } = await readLikeWebuiapi(
      await api.post('/sdapi/v1/txt2img', body, basic()),
    );
    expect(images).toHaveLength(2);
    for (const image of images)
      expect([image.meta.format, image.meta.width, image.meta.height]).toEqual(['png', 512, 512]);
    // The request as it arrived; easel reads a top-level null as "not given", so those are left out.
    expect(parameters).toEqual(Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null)));

    // Processed.js(), field by field.
    expect(info.prompt).toBe('a red circle on a blue background');
    expect(info.all_prompts).toEqual([info.prompt, info.prompt]);
    expect(info.negative_prompt).toBe('blurry');
    expect(info.all_negative_prompts).toEqual(['blurry', 'blurry']);
    expect(info.seed).toEqual(expect.any(Number));
    expect(info.seed).toBeGreaterThan(0);
    expect(info.all_seeds).toHaveLength(2);
    expect(info.all_seeds[0]).toBe(info.seed);
    expect(info.subseed).toBe(-1);
    expect(info.all_subseeds).toEqual([-1, -1]);
    expect(info.subseed_strength).toBe(0);
    expect([info.width, info.height]).toEqual([512, 512]);
    expect(info.sampler_name).toBe('Euler a');
    expect(info.cfg_scale).toBe(7);
    expect(info.steps).toBe(3);
    expect(info.batch_size).toBe(2);
    expect(info.restore_faces).toBe(false);
    expect(info.sd_model_name).toBe('tiny');
    expect(info.seed_resize_from_w).toBe(-1);
    expect(info.denoising_strength).toBeNull();
    expect(info.extra_generation_params).toEqual({});
    expect(info.index_of_first_image).toBe(0);
    expect(info.styles).toEqual([]);
    expect(info.job_timestamp).toMatch(/^\d{14}$/);
    expect(info.clip_skip).toBe(1);
    // Each infotext is the image's own PNG text, with its own seed.
    expect(info.infotexts).toHaveLength(2);
    info.infotexts.forEach((text: string, i: number) => {
      expect(text).toContain(`Seed: ${info.all_seeds[i]}`);
      expect(text).toContain('Negative prompt: blurry');
      expect(text).toContain('Sampler: Euler a');
    });

    const cost = computeCost(
      { mode: 'txt2img', width: 512, height: 512, steps: 3, count: 2 },
      ratesFromConfig(api.config),
    );
    expect(await credits()).toBe(before - cost);
  });

  it('keeps a given seed and a Karras schedule, and answers no images when send_images is false', async () => {
    const seeded = await readLikeWebuiapi(
      await api.post(
        '/sdapi/v1/txt2img',
        txt2imgBody({
          prompt: 'a karras circle',
          seed: 4242,
          sampler_name: 'DPM++ 2M',
          scheduler: 'karras',
          send_images: false,
        }),
        basic(),
      ),
    );
    expect(seeded.images).toEqual([]);
    expect(seeded.info.seed).toBe(4242);
    expect(seeded.info.sampler_name).toBe('DPM++ 2M Karras');
  });

  it('accepts the key as a Bearer token too', async () => {
    const answer = await api.post('/sdapi/v1/txt2img', txt2imgBody({ prompt: 'a bearer circle', seed: 7 }), {
      authorization: `Bearer ${key}`,
    });
    expect((await readLikeWebuiapi(answer)).info.seed).toBe(7);
  });
});

describe('img2img', () => {
  it('starts from a data URI image, large ones included, with denoising_strength', async () => {
    // Noise does not compress: a PNG of well over the 64 KB a JSON string may otherwise hold.
    const noise = randomBytes(256 * 256 * 3);
    const large = await sharp(noise, { raw: { width: 256, height: 256, channels: 3 } })
      .png()
      .toBuffer();
    expect(large.length).toBeGreaterThan(100_000);
    const { images, info, parameters } = await readLikeWebuiapi(
      await api.post(
        '/sdapi/v1/img2img',
        img2imgBody(`data:image/png;base64,${large.toString('base64')}`, {
          prompt: 'a noisy start',
          denoising_strength: 0.4,
        }),
        basic(),
      ),
    );
    expect(images).toHaveLength(1);
    expect(info.denoising_strength).toBe(0.4);
    expect(info.infotexts[0]).toContain('Denoising strength: 0.4');
    // A1111 leaves the images out of `parameters` unless include_init_images is set.
    expect(parameters.init_images).toBeNull();
  });

  it('inpaints with a mask, inverted and blurred as asked', async () => {
    const init = await dataUri(512, 512, '#3060c0');
    const mask = await dataUri(512, 512, '#000');
    const { images, info, parameters } = await readLikeWebuiapi(
      await api.post(
        '/sdapi/v1/img2img',
        img2imgBody(init, {
          prompt: 'a masked circle',
          mask,
          inpainting_mask_invert: 1,
          mask_blur: 8,
          include_init_images: true,
        }),
        basic(),
      ),
    );
    expect(images).toHaveLength(1);
    expect(info.infotexts[0]).toContain('Mode: inpaint');
    expect(parameters.init_images).toEqual([init]);
  });

  it('refuses a mask of another size than the image, naming the mask, and charges nothing', async () => {
    const before = await credits();
    const answer = await api.post(
      '/sdapi/v1/img2img',
      img2imgBody(await dataUri(512, 512, '#fff'), { mask: await dataUri(256, 256, '#fff') }),
      basic(),
    );
    expect(answer.status).toBe(422);
    expect(answer.body.detail[0].loc).toEqual(['body', 'mask']);
    expect(await credits()).toBe(before);
  });
});

describe('settings and listings', () => {
  it("lists models, samplers and schedules in A1111's item shapes", async () => {
    const models = await api.get('/sdapi/v1/sd-models', basic());
    expect(models.status).toBe(200);
    // Installed models only: the broken copy is installed, the missing one is not.
    expect(models.body.map((m: AnswerBody) => m.title).sort()).toEqual(['tiny', 'tiny-broken']);
    expect(models.body[0]).toEqual({
      title: expect.any(String),
      model_name: expect.any(String),
      hash: null,
      sha256: null,
      filename: expect.any(String),
      config: null,
    });
    const samplers = (await api.get('/sdapi/v1/samplers', basic())).body;
    expect(samplers).toContainEqual({ name: 'Euler a', aliases: ['euler_a'], options: {} });
    expect(samplers).toContainEqual({
      name: 'DPM++ 2M Karras',
      aliases: ['dpmpp_2m_karras'],
      options: { scheduler: 'karras' },
    });
    const schedulers = (await api.get('/sdapi/v1/schedulers', basic())).body;
    expect(schedulers.map((s: AnswerBody) => s.name)).toEqual(['automatic', 'karras']);
    expect(Object.keys(schedulers[0]).sort()).toEqual([
      'aliases',
      'default_rho',
      'label',
      'name',
      'need_inner_model',
    ]);
    const upscalers = (await api.get('/sdapi/v1/upscalers', basic())).body;
    expect(upscalers[0]).toEqual({
      name: 'None',
      model_name: null,
      model_path: null,
      model_url: null,
      scale: 4,
    });
    expect((await api.get('/sdapi/v1/loras', basic())).body).toEqual([]);
    expect((await api.get('/sdapi/v1/embeddings', basic())).body).toEqual({ loaded: {}, skipped: {} });
    writeTinyLora(api.config.MODELS_DIR, 'detail');
    mkdirSync(join(api.config.MODELS_DIR, 'embeddings'), { recursive: true });
    writeFileSync(
      join(api.config.MODELS_DIR, 'embeddings', 'shiny.safetensors'),
      encodeSafetensors({ emb_params: { dtype: 'F32', shape: [2, 32], values: new Float32Array(64) } }),
    );
    writeFileSync(join(api.config.MODELS_DIR, 'embeddings', 'broken.safetensors'), Buffer.alloc(4));
    expect((await api.get('/sdapi/v1/loras', basic())).body).toEqual([
      { name: 'detail', alias: 'detail', path: 'detail.safetensors', metadata: {} },
    ]);
    const item = (shape: number, vectors: number) => ({
      step: null,
      sd_checkpoint: null,
      sd_checkpoint_name: null,
      shape,
      vectors,
    });
    expect((await api.get('/sdapi/v1/embeddings', basic())).body).toEqual({
      loaded: { shiny: item(32, 2) },
      skipped: { broken: item(0, 0) },
    });
    const listed = (await api.get('/v1/models')).body;
    expect(listed.loras).toEqual([
      { name: 'detail', file: 'detail.safetensors', size_bytes: expect.any(Number), family: 'unknown' },
    ]);
    expect(listed.embeddings[0]).toEqual({
      name: 'broken',
      file: 'broken.safetensors',
      size_bytes: 4,
      family: 'unknown',
      problem:
        'broken.safetensors is not a valid safetensors file: it has 4 bytes, fewer than the 8-byte header length',
    });
    rmSync(join(api.config.MODELS_DIR, 'loras'), { recursive: true });
    rmSync(join(api.config.MODELS_DIR, 'embeddings'), { recursive: true });
    // webuiapi's check_extensions reads scripts["txt2img"].
    expect((await api.get('/sdapi/v1/scripts', basic())).body).toEqual({ txt2img: [], img2img: [] });
  });

  it("sets the key's default model through options, as webuiapi's util_set_model does", async () => {
    const other = await api.newKey({ credits: 50 });
    const auth = basic(other.key);
    expect((await api.get('/sdapi/v1/options', auth)).body.sd_model_checkpoint).toBe('tiny');
    const set = await api.post('/sdapi/v1/options', { sd_model_checkpoint: 'tiny-broken' }, auth);
    expect(set.status).toBe(200);
    expect(set.body).toBeNull();
    expect((await api.get('/sdapi/v1/options', auth)).body.sd_model_checkpoint).toBe('tiny-broken');
    // Only this key's default changed.
    expect((await api.get('/sdapi/v1/options', basic())).body.sd_model_checkpoint).toBe('tiny');
    // The broken model's render fails in the worker: A1111's 500, and the key is refunded.
    const failed = await api.post('/sdapi/v1/txt2img', txt2imgBody({ prompt: 'a broken circle' }), auth);
    expect(failed.status).toBe(500);
    expect(failed.body.error).toBe('HTTPException');
    expect(failed.body.detail).toMatch(/not charged/);
    expect((await api.services.credits.balance(keyMember(other.record.id))).total).toBe(50);
    // override_settings wins over the key's default.
    const overridden = await api.post(
      '/sdapi/v1/txt2img',
      txt2imgBody({
        prompt: 'an overridden circle',
        override_settings: { sd_model_checkpoint: 'tiny.safetensors [0123abcd]' },
      }),
      auth,
    );
    expect((await readLikeWebuiapi(overridden)).info.sd_model_name).toBe('tiny');
    const unknown = await api.post('/sdapi/v1/options', { sd_model_checkpoint: 'tiny-missing' }, auth);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'HTTPException', body: '' });
    expect(unknown.body.errors).toMatch(/^404: Model id not found/);
  });

  it('reads back the parameters of an image it made through png-info', async () => {
    const made = await readLikeWebuiapi(
      await api.post('/sdapi/v1/txt2img', txt2imgBody({ prompt: 'a png-info circle', seed: 99 }), basic()),
    );
    const answer = await api.post(
      '/sdapi/v1/png-info',
      { image: `data:image/png;base64,${made.images[0]!.bytes.toString('base64')}` },
      basic(),
    );
    expect(answer.status).toBe(200);
    expect(answer.body.info).toBe(made.info.infotexts[0]);
    expect(answer.body.parameters).toMatchObject({
      Prompt: 'a png-info circle',
      Seed: '99',
      Steps: '3',
      'Size-1': '512',
      'Size-2': '512',
    });
  });

  it('answers progress with nothing running as idle', async () => {
    const progress = await api.get('/sdapi/v1/progress', basic());
    expect(progress.body).toMatchObject({
      progress: 0,
      eta_relative: 0,
      state: { job_count: 0, interrupted: false },
    });
  });
});

describe('refusals in A1111 shapes', () => {
  it('answers a missing or wrong password with 401, WWW-Authenticate: Basic and A1111’s body', async () => {
    for (const headers of [{}, basic('esk_wrong')]) {
      const answer = await api.post('/sdapi/v1/txt2img', txt2imgBody(), headers);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Basic');
      expect(answer.body).toEqual({
        error: 'HTTPException',
        detail: expect.stringMatching(/^Incorrect username or password/),
        body: '',
        errors: expect.stringMatching(/^401: Incorrect username or password/),
      });
    }
  });

  it("answers bad fields with FastAPI's 422, each under its A1111 name, and charges nothing", async () => {
    const before = await credits();
    const answer = await api.post(
      '/sdapi/v1/txt2img',
      txt2imgBody({ enable_hr: true, hr_scale: 9, steps: 'many', sampler_name: 'Nonsense', batch_size: 11 }),
      basic(),
    );
    expect(answer.status).toBe(422);
    const fields = (answer.body.detail as AnswerBody[]).map((d) => d.loc[1]).sort();
    expect(fields).toEqual(['batch_size x n_iter', 'hr_scale', 'sampler_name', 'steps'].sort());
    for (const d of answer.body.detail)
      expect(d).toEqual({ loc: ['body', d.loc[1]], msg: expect.any(String), type: 'value_error' });
    expect(await credits()).toBe(before);
  });

  it('refuses an unknown checkpoint in override_settings with 404, as A1111 does', async () => {
    const answer = await api.post(
      '/sdapi/v1/txt2img',
      txt2imgBody({ override_settings: { sd_model_checkpoint: 'nope' } }),
      basic(),
    );
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({
      error: 'HTTPException',
      detail: expect.stringMatching(/^Model id not found/),
    });
  });

  it("answers past the key's own rate with 429, Retry-After and A1111's body", async () => {
    const limited = await api.newKey({ credits: 20, rate: { limit: 1, windowS: 60 } });
    const first = await api.post(
      '/sdapi/v1/txt2img',
      txt2imgBody({ prompt: 'a rated circle' }),
      basic(limited.key),
    );
    expect(first.status).toBe(200);
    const second = await api.post(
      '/sdapi/v1/txt2img',
      txt2imgBody({ prompt: 'a second circle' }),
      basic(limited.key),
    );
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(second.body).toMatchObject({
      error: 'HTTPException',
      body: '',
      errors: expect.stringMatching(/^429: /),
    });
  });

  it('keeps easel’s own /v1 errors in their own shape', async () => {
    const answer = await api.post('/v1/text2img', { prompt: 'x' }, basic('esk_wrong'));
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ status: 'error', message: 'Invalid Api Key' });
  });
});

describe('waiting, interrupting and timing out', () => {
  let idle: ApiHarness;
  let idleKey: string;
  let idleId: string;

  beforeAll(async () => {
    // No workers: every job waits in the queue until it is interrupted or times out.
    idle = await startApiHarness({ name: 'a1111-idle', env: { API_SYNC_FACE_WAIT_MS: '30000' } });
    const created = await idle.newKey({ credits: 20 });
    idleKey = created.key;
    idleId = created.record.id;
  }, 60_000);

  afterAll(async () => {
    await idle?.close();
  });

  const idleCredits = async () => (await idle.services.credits.balance(keyMember(idleId))).total;

  it('shows the waiting job in progress, and interrupt cancels it: no images, nothing charged', async () => {
    const auth = basic(idleKey);
    const pending = idle.post('/sdapi/v1/txt2img', txt2imgBody({ seed: 3 }), auth);
    let progress: AnswerBody;
    for (let i = 0; i < 100; i++) {
      progress = (await idle.get('/sdapi/v1/progress', auth)).body;
      if (progress.state.job_count > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(progress.state.job_count).toBe(1);
    expect(progress.textinfo).toBe('Waiting in the queue');
    expect(progress.progress).toBeCloseTo(0.01);
    expect(await idleCredits()).toBeLessThan(20);

    expect((await idle.post('/sdapi/v1/interrupt', undefined, auth)).body).toEqual({});
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(answer.body.images).toEqual([]);
    expect(JSON.parse(answer.body.info)).toMatchObject({ interrupted: true, all_seeds: [] });
    expect(await idleCredits()).toBe(20);
  });
});

describe('the blocking wait', () => {
  it('cancels a render not done within API_SYNC_FACE_WAIT_MS and answers 504, charging nothing', async () => {
    const idle = await startApiHarness({ name: 'a1111-timeout', env: { API_SYNC_FACE_WAIT_MS: '1000' } });
    try {
      const created = await idle.newKey({ credits: 20 });
      const answer = await idle.post('/sdapi/v1/txt2img', txt2imgBody(), basic(created.key));
      expect(answer.status).toBe(504);
      expect(answer.body.detail).toMatch(/cancelled and not charged/);
      expect((await idle.services.credits.balance(keyMember(created.record.id))).total).toBe(20);
      expect(await idle.services.credits.pending(keyMember(created.record.id), 10)).toEqual([]);
    } finally {
      await idle.close();
    }
  }, 30_000);
});
