import { mkdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import { readPngText } from '../../src/engine/png-text.ts';
import { createRenderer } from '../../src/engine/render-job.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { familyEntry, familyWorld } from '../support/tiny-families.ts';
import { type TinyWorld, tinyRequest, tinyWorld } from '../support/tiny-models.ts';
import { dyadic, f32, writeLora } from './named-models.ts';

/**
 * Textual-inversion embeddings named in a prompt, through the real pipeline: the tiny SD 1.x model
 * (CLIP 32 wide) and the tiny SDXL one (CLIP L 8 and CLIP G 12 wide, a clip_l/clip_g pair).
 */
let sd1: TinyWorld;
let xl: TinyWorld;

function writeEmbedding(world: TinyWorld, name: string, vectors: Record<string, ReturnType<typeof f32>>) {
  const dir = join(world.modelsDir, 'embeddings');
  mkdirSync(dir, { recursive: true });
  return writeLora(join(dir, `${name}.safetensors`), vectors);
}

function render(world: TinyWorld, overrides: Partial<GenerationRequest>) {
  return generatePictures(tinyRequest(overrides), {
    store: world.store,
    catalog: world.catalog,
    images: { load: async () => Buffer.alloc(0) },
    maxPixels: 1024 * 1024,
  });
}

beforeAll(async () => {
  sd1 = await tinyWorld({ variants: ['tiny'] });
  xl = await familyWorld({ families: ['sdxl'] });
  writeEmbedding(sd1, 'shiny', { emb_params: f32([2, 32], dyadic(21, 64, 4)) });
  writeEmbedding(sd1, 'xl-look', {
    clip_l: f32([1, 8], dyadic(23, 8, 4)),
    clip_g: f32([1, 12], dyadic(24, 12, 4)),
  });
  writeEmbedding(xl, 'xl-look', {
    clip_l: f32([1, 8], dyadic(23, 8, 4)),
    clip_g: f32([1, 12], dyadic(24, 12, 4)),
  });
  writeEmbedding(xl, 'shiny', { emb_params: f32([2, 32], dyadic(21, 64, 4)) });
});

afterAll(async () => {
  for (const world of [sd1, xl]) {
    await world.store.release();
    await rm(world.modelsDir, { recursive: true, force: true });
  }
});

describe('embeddings in a render', () => {
  it('uses an embedding the prompt names, and changes nothing for a prompt that does not', async () => {
    const named = await render(sd1, { prompt: 'a shiny circle' });
    expect(named.addOns?.embeddings.map((e) => e.name)).toEqual(['shiny']);
    const plain = await render(sd1, { prompt: 'a red circle' });
    expect(plain.addOns?.embeddings).toEqual([]);

    // The same prompts on a world without the embedding: only the one naming it differs.
    const bare = await tinyWorld({ variants: ['tiny'] });
    try {
      const namedBare = await render(bare, { prompt: 'a shiny circle' });
      const plainBare = await render(bare, { prompt: 'a red circle' });
      expect(named.pictures[0]!.data.equals(namedBare.pictures[0]!.data)).toBe(false);
      expect(plain.pictures[0]!.data.equals(plainBare.pictures[0]!.data)).toBe(true);
    } finally {
      await bare.store.release();
      rmSync(bare.modelsDir, { recursive: true, force: true });
    }
  });

  it('uses one named in the negative prompt, and records it in TI hashes', async () => {
    const dir = join(sd1.modelsDir, 'artifacts');
    const artifacts = new DiskArtifactStore(dir);
    const renderJob = createRenderer({
      store: sd1.store,
      catalog: sd1.catalog,
      artifacts,
      settings: {
        maxPixels: 1024 * 1024,
        nsfwScreening: 'off',
        nsfwThreshold: 0.5,
        nsfwjsThresholds: { porn: 0.5, hentai: 0.5, sexy: 0.8 },
      },
    });
    const result = await renderJob(
      {
        v: 1,
        requestId: 'r',
        request: tinyRequest({ negativePrompt: 'shiny, blurry' }),
        member: { scope: { kind: 'cli', id: 'local' }, userId: 'me' },
        origin: { platform: 'cli' },
        cost: 1,
        createdAt: Date.now(),
      },
      {
        jobId: 'j',
        signal: new AbortController().signal,
        reportProgress: async () => {},
        logger: createLogger('silent'),
      },
    );
    const png = (await artifacts.get(result.images[0]!.artifactId))!.bytes;
    expect(readPngText(png).parameters).toMatch(/, TI hashes: "shiny: [0-9a-f]{12}", Version: easel$/);
  });

  it('adds an SDXL pair to both text encoders', async () => {
    const xlRender = (prompt: string) =>
      generatePictures(
        { ...tinyRequest({ prompt }), model: familyEntry('sdxl').id },
        {
          store: xl.store,
          catalog: xl.catalog,
          images: { load: async () => Buffer.alloc(0) },
          maxPixels: 1 << 20,
        },
      );
    const withPair = await xlRender('a xl-look circle');
    expect(withPair.addOns?.embeddings.map((e) => e.name)).toEqual(['xl-look']);
    const without = await xlRender('a circle');
    expect(withPair.pictures[0]!.data.equals(without.pictures[0]!.data)).toBe(false);
  });

  it('refuses an embedding of another family by name', async () => {
    await expect(render(sd1, { prompt: 'a xl-look circle' })).rejects.toMatchObject({
      name: 'UserError',
      message:
        'embedding "xl-look" is an SDXL embedding (clip_l and clip_g); it cannot be used with a Stable Diffusion 1.x model',
    });
    await expect(
      generatePictures(
        { ...tinyRequest({ prompt: 'a shiny circle' }), model: familyEntry('sdxl').id },
        {
          store: xl.store,
          catalog: xl.catalog,
          images: { load: async () => Buffer.alloc(0) },
          maxPixels: 1 << 20,
        },
      ),
    ).rejects.toMatchObject({
      name: 'UserError',
      message:
        'embedding "shiny" is for SD 1.x/2.x (it has no clip_g vectors); Stable Diffusion XL models need SDXL embeddings',
    });
  });
});
