import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactStore } from '../../src/artifacts/artifact-store.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { classifierScreen, safetyCheckerScreen } from '../../src/engine/nsfw-screen.ts';
import { nsfwjsScreen } from '../../src/engine/nsfwjs-screen.ts';
import { createRenderer, type RendererSettings } from '../../src/engine/render-job.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { GenerateJobData } from '../../src/queue/job-data.ts';
import { startGenerateRole } from '../../src/queue/worker-role.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { DEFAULT_BUILTINS } from '../support/converted-networks.ts';
import { type TinyWorld, tinyEntry, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

let world: TinyWorld;
let dir: string;

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny', 'tiny-pixel'], classifier: true });
  dir = await mkdtemp(join(tmpdir(), 'easel-render-job-'));
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

const settings: RendererSettings = {
  maxPixels: 1536 * 1536,
  nsfwScreening: 'on',
  nsfwThreshold: 0.5,
  nsfwjsThresholds: { porn: 0.5, hentai: 0.5, sexy: 0.8 },
};
const logger = createLogger('silent');

function job(overrides: Partial<GenerationRequest> = {}): GenerateJobData {
  return {
    v: 1,
    requestId: 'r1',
    request: tinyRequest(overrides),
    member: { scope: { kind: 'cli', id: 'local' }, userId: 'me' },
    origin: { platform: 'cli' },
    cost: 1,
    createdAt: Date.now(),
  };
}

function ctx() {
  return { jobId: 'job-1', signal: new AbortController().signal, reportProgress: async () => {}, logger };
}

async function solid(colour: string) {
  const data = await sharp({ create: { width: 64, height: 64, channels: 3, background: colour } })
    .raw()
    .toBuffer();
  return { data, width: 64, height: 64 };
}

describe('render (the engine part of a generate job)', () => {
  it('deletes the pictures it stored when storing fails half-way', async () => {
    const disk = new DiskArtifactStore(join(dir, 'half'));
    let puts = 0;
    const flaky: ArtifactStore = {
      put: async (bytes, meta) => {
        puts++;
        if (puts === 3) throw new Error('disk full');
        return disk.put(bytes, meta);
      },
      get: (id) => disk.get(id),
      delete: (id) => disk.delete(id),
      sweep: (cutoff) => disk.sweep(cutoff),
    };
    const render = createRenderer({ store: world.store, catalog: world.catalog, artifacts: flaky, settings });
    await expect(render(job({ count: 4 }), ctx())).rejects.toThrow('disk full');
    const shards = await readdir(join(dir, 'half'));
    const files = (await Promise.all(shards.map((s) => readdir(join(dir, 'half', s))))).flat();
    expect(files).toEqual([]);
  });

  it('leaves screening out for a model that needs none', async () => {
    const artifacts = new DiskArtifactStore(join(dir, 'pixel'));
    const render = createRenderer({ store: world.store, catalog: world.catalog, artifacts, settings });
    const result = await render(job({ model: 'tiny-pixel' }), ctx());
    expect(result.images[0]!.nsfw).toBeNull();
  });

  it('leaves screening out everywhere when NSFW_SCREENING=off', async () => {
    const artifacts = new DiskArtifactStore(join(dir, 'off'));
    const render = createRenderer({
      store: world.store,
      catalog: world.catalog,
      artifacts,
      settings: { ...settings, nsfwScreening: 'off' },
    });
    const result = await render(job(), ctx());
    expect(result.images[0]!.nsfw).toBeNull();
  });

  it('reports progress as step / total', async () => {
    const artifacts = new DiskArtifactStore(join(dir, 'progress'));
    const render = createRenderer({ store: world.store, catalog: world.catalog, artifacts, settings });
    const seen: { step: number; total: number }[] = [];
    await render(job({ steps: 6 }), { ...ctx(), reportProgress: async (p) => void seen.push(p) });
    expect(seen.at(0)).toEqual({ step: 1, total: 6 });
    expect(seen.at(-1)).toEqual({ step: 6, total: 6 });
  });
});

describe('NSFW screening', () => {
  it('the SD safety checker contract flags the checker-flagged picture and passes the other', async () => {
    const { model } = await world.store.diffusionModel(world.catalog.models[0]!, false);
    const screen = safetyCheckerScreen(model.safetyChecker!);
    expect(await screen(await solid('#ff0000'))).toEqual({ nsfw: true, score: 1 });
    expect(await screen(await solid('#808080'))).toEqual({ nsfw: false, score: 0 });
  });

  it('a two-class classifier gives a probability, compared with NSFW_THRESHOLD', async () => {
    const classifier = (await world.store.nsfwClassifier())!;
    const red = await classifierScreen(classifier, 0.5)(await solid('#ff0000'));
    const grey = await classifierScreen(classifier, 0.5)(await solid('#808080'));
    expect(red.nsfw).toBe(true);
    expect(red.score).toBeGreaterThan(0.7);
    expect(grey.nsfw).toBe(false);
    expect(grey.score).toBeLessThan(0.3);
    expect((await classifierScreen(classifier, 0.95)(await solid('#ff0000'))).nsfw).toBe(false);
  });

  it('a model without its own checker is screened by the classifier', async () => {
    world.catalog.models.push(
      tinyEntry('tiny-pixel-screened', { folder: 'tiny-pixel', nsfwScreening: 'required' }),
    );
    const artifacts = new DiskArtifactStore(join(dir, 'classified'));
    const render = createRenderer({ store: world.store, catalog: world.catalog, artifacts, settings });
    const result = await render(job({ model: 'tiny-pixel-screened' }), ctx());
    expect(result.images[0]!.nsfw?.score).toBeGreaterThanOrEqual(0);
    expect(result.images[0]!.nsfw?.score).toBeLessThanOrEqual(1);
  });
});

describe('worker start-up', () => {
  it('refuses to start when an installed model needs screening and nothing can screen it', async () => {
    const bare = await tinyWorld({ variants: ['tiny-pixel'] });
    bare.catalog.models.push(tinyEntry('unscreened', { folder: 'tiny-pixel', nsfwScreening: 'required' }));
    // NSFW_CLASSIFIER=none: without the built-in classifier, nothing is left to screen it.
    const config = parseConfig({ MODELS_DIR: bare.modelsDir, LOG_LEVEL: 'silent', NSFW_CLASSIFIER: 'none' });
    await expect(
      startGenerateRole({ config, logger }, { catalog: bare.catalog, warmUp: false }),
    ).rejects.toThrow(
      /unscreened" needs NSFW screening .* NSFW_CLASSIFIER=none \(or set NSFW_SCREENING=off\)/s,
    );
    await rm(bare.modelsDir, { recursive: true, force: true });
  });

  it('starts with the built-in classifier (the default) and screens such a model with it', async () => {
    const bare = await tinyWorld({ variants: ['tiny-pixel'] });
    bare.catalog.models.push(tinyEntry('unscreened', { folder: 'tiny-pixel', nsfwScreening: 'required' }));
    const config = parseConfig({
      MODELS_DIR: bare.modelsDir,
      LOG_LEVEL: 'silent',
      DATA_DIR: join(dir, 'data'),
    });
    const worker = await startGenerateRole({ config, logger }, { catalog: bare.catalog, warmUp: false });
    await worker.stop();
    await rm(bare.modelsDir, { recursive: true, force: true });
  });
});

describe('the built-in classifier', () => {
  it('screens a model without its own checker when no classifier is installed', async () => {
    const builtin = await tinyWorld({ variants: ['tiny-pixel'], builtin: DEFAULT_BUILTINS });
    builtin.catalog.models.push(tinyEntry('screened', { folder: 'tiny-pixel', nsfwScreening: 'required' }));
    const artifacts = new DiskArtifactStore(join(dir, 'builtin'));
    const render = createRenderer({ store: builtin.store, catalog: builtin.catalog, artifacts, settings });
    const result = await render(job({ model: 'screened' }), ctx());
    const loaded = (await builtin.store.builtinClassifier())!;
    const picture = await sharp((await artifacts.get(result.images[0]!.artifactId))!.bytes)
      .raw()
      .toBuffer({ resolveWithObject: true });
    const expected = await nsfwjsScreen(
      loaded.session,
      settings.nsfwjsThresholds,
    )({
      data: picture.data,
      width: picture.info.width,
      height: picture.info.height,
    });
    expect(result.images[0]!.nsfw).toEqual(expected);
    await builtin.store.release();
    await rm(builtin.modelsDir, { recursive: true, force: true });
  });

  it('gives way to a classifier installed in MODELS_DIR', async () => {
    const both = await tinyWorld({ variants: ['tiny-pixel'], classifier: true, builtin: DEFAULT_BUILTINS });
    both.catalog.models.push(tinyEntry('screened', { folder: 'tiny-pixel', nsfwScreening: 'required' }));
    const artifacts = new DiskArtifactStore(join(dir, 'installed-wins'));
    const render = createRenderer({ store: both.store, catalog: both.catalog, artifacts, settings });
    const result = await render(job({ model: 'screened' }), ctx());
    const picture = await sharp((await artifacts.get(result.images[0]!.artifactId))!.bytes)
      .raw()
      .toBuffer({ resolveWithObject: true });
    const installed = classifierScreen((await both.store.nsfwClassifier())!, settings.nsfwThreshold);
    expect(result.images[0]!.nsfw).toEqual(
      await installed({ data: picture.data, width: picture.info.width, height: picture.info.height }),
    );
    await both.store.release();
    await rm(both.modelsDir, { recursive: true, force: true });
  });
});
