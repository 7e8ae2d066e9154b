import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { createRenderer, screeningProblems } from '../../src/engine/render-job.ts';
import { convertedNetwork } from '../../src/engine/tfjs/converted-network.ts';
import { esrganNetwork, NSFWJS_MOBILENET_V2 } from '../../src/engine/tfjs/npm-networks.ts';
import { createLogger } from '../../src/log/logger.ts';
import { type TinyWorld, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

const require = createRequire(import.meta.url);
const nsfwjsRoot = join(dirname(require.resolve('nsfwjs')), '../..');
const esrganRoot = join(dirname(require.resolve('@upscalerjs/esrgan-slim')), '../../../../..');

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'easel-bad-packages-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A node_modules folder holding a copy of nsfwjs whose weight shard lost its second half. */
async function truncatedNsfwjs(): Promise<string> {
  const modules = join(root, 'truncated', 'node_modules');
  const pkg = join(modules, 'nsfwjs');
  await mkdir(join(pkg, 'dist', 'models'), { recursive: true });
  await cp(join(nsfwjsRoot, 'package.json'), join(pkg, 'package.json'));
  await cp(join(nsfwjsRoot, 'dist/models/mobilenet_v2'), join(pkg, 'dist/models/mobilenet_v2'), {
    recursive: true,
  });
  const shard = join(pkg, 'dist/models/mobilenet_v2/group1-shard1of1.min.js');
  const text = await readFile(shard, 'utf8');
  const base64 = /"([A-Za-z0-9+/=]{1000,})"/.exec(text)![1]!;
  await writeFile(shard, text.replace(base64, base64.slice(0, (base64.length / 8) * 4)));
  return modules;
}

/** A node_modules folder holding esrgan-slim whose model.json names a layer class the converter does not know. */
async function unknownLayerEsrgan(): Promise<string> {
  const modules = join(root, 'unknown', 'node_modules');
  const pkg = join(modules, '@upscalerjs', 'esrgan-slim');
  await mkdir(pkg, { recursive: true });
  await cp(join(esrganRoot, 'package.json'), join(pkg, 'package.json'));
  await cp(join(esrganRoot, 'models/x2'), join(pkg, 'models/x2'), { recursive: true });
  const file = join(pkg, 'models/x2/model.json');
  const json = JSON.parse(await readFile(file, 'utf8'));
  const layer = json.modelTopology.model_config.config.layers.find(
    (l: { class_name: string }) => l.class_name === 'Activation',
  );
  layer.class_name = 'PReLU';
  await writeFile(file, JSON.stringify(json));
  return modules;
}

describe('converting a damaged package', () => {
  it('refuses truncated weight shards, naming the package and what is wrong', async () => {
    const modules = await truncatedNsfwjs();
    await expect(convertedNetwork(NSFWJS_MOBILENET_V2, join(root, 'cache'), modules)).rejects.toThrow(
      /nsfwjs 4\.3\.0 \(dist\/models\/mobilenet_v2\): the weight shards hold \d+ bytes but the manifest needs more .* truncated or corrupted/,
    );
  });

  it('refuses a layer it does not know, naming the layer and its class', async () => {
    const modules = await unknownLayerEsrgan();
    await expect(convertedNetwork(esrganNetwork('slim', 2), join(root, 'cache'), modules)).rejects.toThrow(
      /layer "F_1_1_Relu" \(PReLU\): unknown layer class PReLU; the converter supports InputLayer, Conv2D/,
    );
  });

  it('says how to install a package that is missing', async () => {
    await expect(
      convertedNetwork(esrganNetwork('thick', 4), join(root, 'cache'), join(root, 'empty')),
    ).rejects.toThrow(
      'esrgan-thick-x4: the npm package @upscalerjs/esrgan-thick is not installed (npm install @upscalerjs/esrgan-thick@1.0.0)',
    );
  });
});

describe('a worker whose built-in classifier is damaged', () => {
  let world: TinyWorld;

  beforeAll(async () => {
    world = await tinyWorld({
      variants: ['tiny-pixel'],
      builtin: {
        classifier: 'nsfwjs-mobilenet-v2',
        upscaler: 'lanczos',
        cacheDir: join(root, 'cache'),
        packagesDir: await truncatedNsfwjs(),
      },
    });
    // A model with no safety_checker/ of its own: only the built-in classifier could screen it.
    world.catalog.models.push({
      ...world.catalog.models[0]!,
      id: 'needs-screening',
      nsfwScreening: 'required',
    });
  });

  afterAll(async () => {
    await world.store.release();
    await rm(world.modelsDir, { recursive: true, force: true });
  });

  it('reports the problem at start-up and refuses to render models that need screening', async () => {
    const settings = {
      maxPixels: 1536 * 1536,
      nsfwScreening: 'on' as const,
      nsfwThreshold: 0.5,
      nsfwjsThresholds: { porn: 0.5, hentai: 0.5, sexy: 0.8 },
    };
    const startup = await world.store.prepareBuiltins();
    expect(startup).toHaveLength(1);
    expect(startup[0]).toMatch(/truncated or corrupted/);
    const problems = screeningProblems(world.store, world.catalog, settings);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /model "needs-screening" needs NSFW screening .* the built-in classifier cannot be used \(.*truncated or corrupted\)/,
    );

    const render = createRenderer({
      store: world.store,
      catalog: world.catalog,
      artifacts: new DiskArtifactStore(join(root, 'artifacts')),
      settings,
    });
    const job = {
      v: 1 as const,
      requestId: 'r1',
      request: tinyRequest({ model: 'needs-screening' }),
      member: { scope: { kind: 'cli' as const, id: 'local' }, userId: 'me' },
      origin: { platform: 'cli' as const },
      cost: 1,
      createdAt: Date.now(),
    };
    const ctx = {
      jobId: 'j1',
      signal: new AbortController().signal,
      reportProgress: async () => {},
      logger: createLogger('silent'),
    };
    await expect(render(job, ctx)).rejects.toThrow(/needs NSFW screening/);
    // The model that needs no screening still renders.
    const fine = await render({ ...job, request: tinyRequest({ model: 'tiny-pixel' }) }, ctx);
    expect(fine.images[0]!.nsfw).toBeNull();
  });
});
