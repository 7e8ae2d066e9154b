import { afterAll, describe, expect, it } from 'vitest';
import { NO_BUILTINS } from '../../src/engine/engine-settings.ts';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import { ModelStore } from '../../src/engine/model-store.ts';
import { createLogger } from '../../src/log/logger.ts';
import { isInstalled } from '../../src/models/model-folder.ts';
import { findModel, loadRegistry } from '../../src/models/registry.ts';
import { tinyRequest } from '../support/tiny-models.ts';

/**
 * The built-in easel-mini model (models/easel-mini, trained in-house) through the unchanged
 * pipeline: its layout differs from Stable Diffusion's in every number the engine must read rather
 * than assume (12 latent channels, VAE factor 2, v-prediction, int32 ids, float timesteps, a 32px
 * render shown at 512px). Runs once the trained files are in the repository.
 */
const catalog = loadRegistry();
const entry = findModel(catalog, 'easel-mini')!;
const installed = isInstalled(entry, '/nonexistent');
const store = new ModelStore(
  { modelsDir: '/nonexistent', providers: ['cpu'], threads: 2, builtin: NO_BUILTINS },
  catalog,
  createLogger('silent'),
);

afterAll(async () => {
  await store.release();
});

const options = { store, catalog, maxPixels: 1536 * 1536, images: { load: async () => Buffer.alloc(0) } };
const request = (overrides = {}) =>
  tinyRequest({
    model: 'easel-mini',
    width: 512,
    height: 512,
    steps: 25,
    guidance: 4,
    sampler: 'ddim',
    ...overrides,
  });

describe.skipIf(!installed)('easel-mini through the engine', () => {
  it('reads its layout from its configs and renders 32px pictures shown at 512px', async () => {
    const out = await generatePictures(
      request({ prompt: 'a red circle on a blue background', seed: 3 }),
      options,
    );
    expect(out.model?.latentChannels).toBe(12);
    expect(out.model?.vaeScaleFactor).toBe(2);
    expect([out.pictures[0]!.width, out.pictures[0]!.height]).toEqual([512, 512]);
  });

  it('gives identical pixels for the same seed and prompt', async () => {
    const a = await generatePictures(request({ seed: 11 }), options);
    const b = await generatePictures(request({ seed: 11 }), options);
    expect(Buffer.compare(a.pictures[0]!.data, b.pictures[0]!.data)).toBe(0);
  });

  it('renders the wide aspect ratios on its 4-latent grid', async () => {
    const out = await generatePictures(request({ width: 896, height: 512 }), options);
    expect([out.pictures[0]!.width, out.pictures[0]!.height]).toEqual([896, 512]);
  });
});
