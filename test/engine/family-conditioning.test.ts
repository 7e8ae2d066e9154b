import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DiffusionModel } from '../../src/engine/diffusion-model.ts';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import { encodeText } from '../../src/engine/text-conditioning.ts';
import type { TinyFamily } from '../../src/engine/tiny/tiny-families.ts';
import { decodeLatents, encodePicture } from '../../src/engine/vae.ts';
import { familyEntry, familyOptions, familyRequest, familyWorld } from '../support/tiny-families.ts';
import type { TinyWorld } from '../support/tiny-models.ts';

/**
 * The families' conditioning, checked number for number against the text encoders' own outputs
 * (run here straight through onnxruntime): the tiny encoders' layers all differ, so reading the
 * wrong hidden layer, leaving out a concatenation, padding wrongly or zeroing the wrong negative
 * changes the numbers.
 */
let world: TinyWorld;
const models = new Map<TinyFamily, DiffusionModel>();
const SIZE = { width: 64, height: 48 };

beforeAll(async () => {
  world = await familyWorld({ families: ['sd2', 'sdxl', 'sdxl-refiner', 'sd3', 'sd3-no-t5'] });
  for (const family of ['sd2', 'sdxl', 'sdxl-refiner', 'sd3', 'sd3-no-t5'] as const) {
    models.set(family, (await world.store.diffusionModel(familyEntry(family), true)).model);
  }
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

/** One text encoder's raw outputs for a prompt, tokenized by the model's own tokenizer for that encoder. */
async function raw(
  model: DiffusionModel,
  index: number,
  prompt: string,
): Promise<Record<string, Float32Array>> {
  const encoder = model.textEncoders[index]!;
  const session = await InferenceSession.create(join(model.dir, encoder.part, 'model.onnx'));
  const ids = encoder.tokenizer.encode(prompt).ids;
  const type = session.inputMetadata[0]!.isTensor ? session.inputMetadata[0]!.type : 'int64';
  const input =
    type === 'int32'
      ? new Tensor('int32', Int32Array.from(ids), [1, ids.length])
      : new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
  const result = await session.run({ input_ids: input });
  await session.release();
  return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.data as Float32Array]));
}

function input(text: Awaited<ReturnType<typeof encodeText>>, name: string) {
  const found = text.inputs.find((i) => i.name === name);
  if (found === undefined) throw new Error(`no ${name}`);
  return found;
}

/** Rows [T, a] and [T, b] joined on the last axis, zero-padded to `width`. */
function join2(
  a: Float32Array,
  wa: number,
  b: Float32Array | undefined,
  wb: number,
  tokens: number,
  width: number,
) {
  const out = new Float32Array(tokens * width);
  for (let t = 0; t < tokens; t++) {
    out.set(a.subarray(t * wa, (t + 1) * wa), t * width);
    if (b !== undefined) out.set(b.subarray(t * wb, (t + 1) * wb), t * width + wa);
  }
  return out;
}

const list = (a: Float32Array) => Array.from(a);

/**
 * Equal to float32 rounding: onnxruntime may sum in another order for a batch of two than for one,
 * while a wrong layer, a missing part or a wrong offset differs by tenths.
 */
function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(1e-5);
}

describe('SD 2', () => {
  it("conditions on the encoder's last_hidden_state (OpenCLIP-H converted without its last layer)", async () => {
    const model = models.get('sd2')!;
    const text = await encodeText(model, 'a red circle', 'blurry', SIZE);
    expect(text.inputs.map((i) => i.name)).toEqual(['encoder_hidden_states']);
    const ehs = input(text, 'encoder_hidden_states');
    expect(ehs.shape).toEqual([77, 16]);
    expectSame(ehs.cond, (await raw(model, 0, 'a red circle')).last_hidden_state!);
    expectSame(ehs.uncond, (await raw(model, 0, 'blurry')).last_hidden_state!);
  });
});

describe('SDXL', () => {
  it('joins both encoders’ penultimate hidden states and pools the second encoder’s text_embeds', async () => {
    const model = models.get('sdxl')!;
    const text = await encodeText(model, 'a red circle', 'blurry', SIZE);
    const l = await raw(model, 0, 'a red circle');
    const g = await raw(model, 1, 'a red circle');
    // The tiny encoders have layers 0..3: the penultimate is hidden_states.2, and it is not the last.
    expect(list(l['hidden_states.2']!)).not.toEqual(list(l['hidden_states.3']!));
    expect(list(l['hidden_states.2']!)).not.toEqual(list(l.last_hidden_state!));
    const ehs = input(text, 'encoder_hidden_states');
    expect(ehs.shape).toEqual([77, 20]);
    expectSame(ehs.cond, join2(l['hidden_states.2']!, 8, g['hidden_states.2']!, 12, 77, 20));
    const embeds = input(text, 'text_embeds');
    expect(embeds.shape).toEqual([12]);
    expectSame(embeds.cond, g.text_embeds!);
    const negL = await raw(model, 0, 'blurry');
    const negG = await raw(model, 1, 'blurry');
    expectSame(ehs.uncond, join2(negL['hidden_states.2']!, 8, negG['hidden_states.2']!, 12, 77, 20));
    expectSame(embeds.uncond, negG.text_embeds!);
  });

  it('builds time_ids from original size + crop + target size, height first', async () => {
    const text = await encodeText(models.get('sdxl')!, 'a red circle', 'blurry', SIZE);
    const ids = input(text, 'time_ids');
    expect(ids.shape).toEqual([6]);
    expect(list(ids.cond)).toEqual([48, 64, 0, 0, 48, 64]);
    expect(list(ids.uncond)).toEqual([48, 64, 0, 0, 48, 64]);
  });

  it('uses zeros as the negative conditioning when no negative prompt is given (force_zeros_for_empty_prompt)', async () => {
    const model = models.get('sdxl')!;
    const text = await encodeText(model, 'a red circle', '', SIZE);
    expect(input(text, 'encoder_hidden_states').uncond.every((v) => v === 0)).toBe(true);
    expect(input(text, 'text_embeds').uncond.every((v) => v === 0)).toBe(true);
    // The encoded empty prompt is not zero, so the test would see the difference.
    expect((await raw(model, 1, '')).text_embeds!.some((v) => v !== 0)).toBe(true);
  });

  it('the refiner conditions on OpenCLIP-G alone, with the aesthetic scores 6 and 2.5 in its five time ids', async () => {
    const model = models.get('sdxl-refiner')!;
    expect(model.layout.family).toBe('sdxl-refiner');
    const text = await encodeText(model, 'a red circle', '', SIZE);
    const g = await raw(model, 0, 'a red circle');
    expectSame(input(text, 'encoder_hidden_states').cond, g['hidden_states.2']!);
    expectSame(input(text, 'text_embeds').cond, g.text_embeds!);
    expect(list(input(text, 'time_ids').cond)).toEqual([48, 64, 0, 0, 6]);
    expect(list(input(text, 'time_ids').uncond)).toEqual([48, 64, 0, 0, 2.5]);
    // Its model_index.json turns force_zeros_for_empty_prompt off: "" is encoded.
    expectSame(input(text, 'text_embeds').uncond, (await raw(model, 0, '')).text_embeds!);
  });

  it('feeds the UNet one batch of two per step ([negative, prompt]) and runs each text encoder once per job', async () => {
    const model = models.get('sdxl')!;
    const unetRun = vi.spyOn(model.denoiser.session, 'run');
    const textRuns = model.textEncoders.map((e) => vi.spyOn(e!.session, 'run'));
    try {
      await generatePictures(
        familyRequest('sdxl', {
          prompt: 'a batch of two, encoded once',
          steps: 3,
          count: 2,
          width: 64,
          height: 48,
        }),
        familyOptions(world),
      );
      expect(unetRun).toHaveBeenCalledTimes(3);
      for (const run of textRuns) expect(run).toHaveBeenCalledTimes(1);
      const feeds = unetRun.mock.calls[0]![0] as Record<string, Tensor>;
      expect(feeds.sample!.dims).toEqual([4, 4, 6, 8]);
      expect(feeds.encoder_hidden_states!.dims).toEqual([4, 77, 20]);
      expect(feeds.text_embeds!.dims).toEqual([4, 12]);
      expect(feeds.time_ids!.dims).toEqual([4, 6]);
      expect(Array.from(feeds.time_ids!.data as Float32Array)).toEqual(
        Array.from({ length: 4 }, () => [48, 64, 0, 0, 48, 64]).flat(),
      );
    } finally {
      unetRun.mockRestore();
      for (const run of textRuns) run.mockRestore();
    }
  });

  it('asks each text encoder for the outputs it reads only, not every hidden layer', async () => {
    const model = models.get('sdxl')!;
    const textRuns = model.textEncoders.map((e) => vi.spyOn(e!.session, 'run'));
    try {
      await encodeText(model, 'a lighthouse', 'fog', SIZE);
      const asked = textRuns.map((run) => run.mock.calls[0]![1]);
      // CLIP-L gives its penultimate layer; OpenCLIP-G that and its pooled text_embeds.
      expect(asked).toEqual([['hidden_states.2'], ['hidden_states.2', 'text_embeds']]);
      const outputs = await textRuns[1]!.mock.results[0]!.value;
      expect(Object.keys(outputs).sort()).toEqual(['hidden_states.2', 'text_embeds']);
      // The export itself has one output per layer and the last layer's.
      expect(model.textEncoders[1]!.session.outputNames.length).toBeGreaterThan(4);
    } finally {
      for (const run of textRuns) run.mockRestore();
    }
  });
});

describe('SD 3', () => {
  it('joins CLIP-L and CLIP-G, pads them to T5’s width and appends T5’s 256 tokens; pools both CLIPs', async () => {
    const model = models.get('sd3')!;
    const text = await encodeText(model, 'a red circle', '', SIZE);
    const l = await raw(model, 0, 'a red circle');
    const g = await raw(model, 1, 'a red circle');
    const t5 = await raw(model, 2, 'a red circle');
    const ehs = input(text, 'encoder_hidden_states');
    expect(ehs.shape).toEqual([77 + 256, 24]);
    const clip = join2(l['hidden_states.2']!, 8, g['hidden_states.2']!, 12, 77, 24);
    expectSame(ehs.cond.subarray(0, 77 * 24), clip);
    expectSame(ehs.cond.subarray(77 * 24), t5.last_hidden_state!);
    const pooled = input(text, 'pooled_projections');
    expectSame(pooled.cond, [...list(l.text_embeds!), ...list(g.text_embeds!)]);
    // SD3 encodes the empty negative prompt (no force_zeros).
    const emptyL = await raw(model, 0, '');
    expectSame(input(text, 'pooled_projections').uncond.subarray(0, 8), emptyL.text_embeds!);
  });

  it('without text_encoder_3, appends zeros of [256, joint_attention_dim] as diffusers does', async () => {
    const model = models.get('sd3-no-t5')!;
    expect(model.textEncoders[2]).toBeUndefined();
    const text = await encodeText(model, 'a red circle', 'blurry', SIZE);
    const ehs = input(text, 'encoder_hidden_states');
    expect(ehs.shape).toEqual([77 + 256, 24]);
    const l = await raw(model, 0, 'a red circle');
    const g = await raw(model, 1, 'a red circle');
    expectSame(
      ehs.cond.subarray(0, 77 * 24),
      join2(l['hidden_states.2']!, 8, g['hidden_states.2']!, 12, 77, 24),
    );
    expect(ehs.cond.subarray(77 * 24).every((v) => v === 0)).toBe(true);
  });
});

describe('VAE factors', () => {
  /** A flat colour picture [3, 64, 64] in [-1, 1]. */
  const flat = (r: number, g: number, b: number) => {
    const out = new Float32Array(3 * 64 * 64);
    out.fill(r, 0, 4096);
    out.fill(g, 4096, 8192);
    out.fill(b, 8192);
    return out;
  };

  it('SD 3 encodes to (mean - shift_factor) * scaling_factor and decodes latents / scaling_factor + shift_factor', async () => {
    const model = models.get('sd3')!;
    expect([model.latentChannels, model.scalingFactor, model.shiftFactor]).toEqual([16, 1.5305, 0.0609]);
    const pixels = flat(0.5, -0.25, 0.1);
    const latents = await encodePicture(model, pixels, 64, 64);
    const encoder = await InferenceSession.create(join(model.dir, 'vae_encoder', 'model.onnx'));
    const params = (await encoder.run({ sample: new Tensor('float32', pixels, [1, 3, 64, 64]) }))
      .latent_parameters!;
    await encoder.release();
    expect(params.dims).toEqual([1, 32, 8, 8]);
    const mean = (params.data as Float32Array).subarray(0, 16 * 64);
    expectSame(
      latents,
      Float32Array.from(mean, (v) => (v - 0.0609) * 1.5305),
    );
    // And back: the tiny VAE is exact on flat 8x8 blocks, so a wrong factor shows in the colour.
    const { pictures } = await decodeLatents(model, latents, 1, 8, 8);
    for (const [channel, value] of [0.5, -0.25, 0.1].entries())
      expect(pictures[0]![channel * 4096 + 100]!).toBeCloseTo(value, 5);
  });

  it('SDXL reads its scaling_factor (0.13025) from the VAE config, with no shift', async () => {
    const model = models.get('sdxl')!;
    expect([model.latentChannels, model.scalingFactor, model.shiftFactor]).toEqual([4, 0.13025, 0]);
    const latents = await encodePicture(model, flat(-0.5, 0.3, 0.7), 64, 64);
    const { pictures } = await decodeLatents(model, latents, 1, 8, 8);
    for (const [channel, value] of [-0.5, 0.3, 0.7].entries())
      expect(pictures[0]![channel * 4096 + 2000]!).toBeCloseTo(value, 5);
  });
});

describe('recent prompts', () => {
  it('a render of the prompt pair just rendered (a reroll) runs no text encoder, and gives the same pixels', async () => {
    const model = models.get('sd3')!;
    const runs = model.textEncoders.map((e) => vi.spyOn(e!.session, 'run'));
    try {
      const request = familyRequest('sd3', { prompt: 'a reroll of a lighthouse', steps: 2 });
      const first = await generatePictures(request, familyOptions(world));
      const counts = runs.map((run) => run.mock.calls.length);
      expect(counts).toEqual([1, 1, 1]);
      const again = await generatePictures(request, familyOptions(world));
      expect(runs.map((run) => run.mock.calls.length)).toEqual(counts);
      expect(Buffer.compare(again.pictures[0]!.data, first.pictures[0]!.data)).toBe(0);
      // Another seed (a variation) reuses the encoding too; another negative prompt does not.
      await generatePictures({ ...request, seed: 7 }, familyOptions(world));
      expect(runs.map((run) => run.mock.calls.length)).toEqual(counts);
      await generatePictures({ ...request, negativePrompt: 'fog' }, familyOptions(world));
      expect(runs.map((run) => run.mock.calls.length)).toEqual([2, 2, 2]);
    } finally {
      for (const run of runs) run.mockRestore();
    }
  });

  it('the kept encoding is the one a fresh run gives, and a failed run is not kept', async () => {
    const model = models.get('sdxl')!;
    await encodeText(model, 'kept or fresh', 'blurry', SIZE);
    // Served from the recent encodings this time (the same encoders, as a model with the same
    // add-ons has them), and still the encoders' own numbers.
    const run = vi.spyOn(model.textEncoders[1]!.session, 'run');
    try {
      const kept = await encodeText({ ...model }, 'kept or fresh', 'blurry', SIZE);
      expect(run).not.toHaveBeenCalled();
      const l = await raw(model, 0, 'kept or fresh');
      const g = await raw(model, 1, 'kept or fresh');
      expectSame(
        input(kept, 'encoder_hidden_states').cond,
        join2(l['hidden_states.2']!, 8, g['hidden_states.2']!, 12, 77, 20),
      );
      expectSame(input(kept, 'text_embeds').cond, g.text_embeds!);
      run.mockRejectedValueOnce(new Error('out of memory'));
      await expect(encodeText(model, 'fails once', '', SIZE)).rejects.toThrow(/out of memory/);
      const retried = await encodeText(model, 'fails once', '', SIZE);
      expect(run).toHaveBeenCalledTimes(2);
      expectSame(input(retried, 'text_embeds').cond, (await raw(model, 1, 'fails once')).text_embeds!);
    } finally {
      run.mockRestore();
    }
  });
});
