import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFinalNorm, withClipSkip } from '../../src/engine/clip-skip.ts';
import type { DiffusionModel } from '../../src/engine/diffusion-model.ts';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import { encodeText } from '../../src/engine/text-conditioning.ts';
import { familyEntry, familyWorld } from '../support/tiny-families.ts';
import { type TinyWorld, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

/**
 * Clip skip on the tiny SD 1.x model exported with hidden states (`hidden_states.0` the embeddings,
 * `.1` and `.2` after its two layers, `last_hidden_state` through a real LayerNorm), and its
 * refusals where an export or a family cannot do it.
 */
let world: TinyWorld;

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny', 'tiny-hidden-states'] });
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

async function loaded(id: string): Promise<DiffusionModel> {
  return (await world.store.diffusionModel(world.catalog.models.find((m) => m.id === id)!, false)).model;
}

async function outputs(model: DiffusionModel, prompt: string): Promise<Record<string, Float32Array>> {
  const encoder = model.textEncoders[0]!;
  const session = await InferenceSession.create(join(model.dir, encoder.part, 'model.onnx'));
  const ids = encoder.tokenizer.encode(prompt).ids;
  const result = await session.run({ input_ids: new Tensor('int32', Int32Array.from(ids), [1, ids.length]) });
  await session.release();
  return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.data as Float32Array]));
}

const SIZE = { width: 64, height: 64 };

describe('clip skip', () => {
  it('reads the layer before the last through the final LayerNorm, as onnxruntime applies it to the last', async () => {
    const model = await loaded('tiny-hidden-states');
    const raw = await outputs(model, 'a red circle');
    const norm = (await withClipSkip(model, 2)).textEncoders[0]!.finalNorm!;
    // Our LayerNorm on the last layer's output gives the export's own last_hidden_state.
    const ours = applyFinalNorm(Float32Array.from(raw['hidden_states.2']!), 32, norm);
    const theirs = raw.last_hidden_state!;
    for (let i = 0; i < ours.length; i++) expect(ours[i]!).toBeCloseTo(theirs[i]!, 5);

    const skipped = await encodeText(await withClipSkip(model, 2), 'a red circle', 'blurry', SIZE);
    const expected = applyFinalNorm(Float32Array.from(raw['hidden_states.1']!), 32, norm);
    expect(Array.from(skipped.inputs[0]!.cond)).toEqual(Array.from(expected));
    const last = await encodeText(await withClipSkip(model, 1), 'a red circle', 'blurry', SIZE);
    expect(Array.from(last.inputs[0]!.cond)).toEqual(Array.from(theirs));
  });

  it('changes the picture and leaves clip skip 1 the same as none', async () => {
    const render = (clipSkip?: number) =>
      generatePictures(tinyRequest({ model: 'tiny-hidden-states', ...(clipSkip ? { clipSkip } : {}) }), {
        store: world.store,
        catalog: world.catalog,
        images: { load: async () => Buffer.alloc(0) },
        maxPixels: 1024 * 1024,
      });
    const none = await render();
    expect((await render(1)).pictures[0]!.data.equals(none.pictures[0]!.data)).toBe(true);
    expect((await render(2)).pictures[0]!.data.equals(none.pictures[0]!.data)).toBe(false);
  });

  it('is refused clearly for an export without hidden states, past the layers there are, and on SDXL', async () => {
    await expect(withClipSkip(await loaded('tiny'), 2)).rejects.toMatchObject({
      name: 'UserError',
      message:
        "tiny's text_encoder was exported without its hidden states, so clip skip cannot be used with it (export the text encoder with output_hidden_states set in its config, as Optimum does for SDXL)",
    });
    await expect(withClipSkip(await loaded('tiny-hidden-states'), 3)).rejects.toMatchObject({
      message: 'clip skip can be at most 2 for tiny-hidden-states: its text encoder has 2 layers',
    });
    const xl = await familyWorld({ families: ['sdxl'] });
    try {
      const { model } = await xl.store.diffusionModel(familyEntry('sdxl'), false);
      await expect(withClipSkip(model, 2)).rejects.toMatchObject({
        message: `clip skip applies to Stable Diffusion 1.x and 2.x models; ${model.id} is Stable Diffusion XL, which reads its own layer`,
      });
    } finally {
      await xl.store.release();
      await rm(xl.modelsDir, { recursive: true, force: true });
    }
  });
});
