import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DenoiseRendezvous } from '../src/engine/denoise-rendezvous.ts';
import { NO_BUILTINS } from '../src/engine/engine-settings.ts';
import type { ProviderName } from '../src/engine/execution-providers.ts';
import { type GenerateOptions, generatePictures } from '../src/engine/generate-pictures.ts';
import { ModelStore } from '../src/engine/model-store.ts';
import { writeTinyModel } from '../src/engine/tiny/tiny-model-folder.ts';
import { createLogger } from '../src/log/logger.ts';
import { loadCatalog } from '../src/models/model-catalog.ts';
import { findModel, type ModelEntry, type Registry } from '../src/models/registry.ts';
import type { GenerationRequest } from '../src/request/types.ts';
import { writeBenchModel } from './engine-synthetic-model.ts';

/**
 * Cross-user batching benchmark (WORKER_BATCH): BENCH_JOBS one-image jobs, each with its own prompt
 * and seed, rendered whole (text encoder, denoising, VAE, resize) by the engine one at a time and
 * then in batches of 2 and 4 through the rendezvous the worker uses; images per second for each,
 * in one run; each figure is the median of BENCH_ROUNDS rounds that take the batch sizes in turn, so
 * a change in the machine's load falls on all of them alike. Models: easel's tiny model (`easel models tiny`) and the engine benchmark's synthetic
 * UNet, heavy enough to dominate a step as a real one does.
 *
 *   npm run bench:batch        (EXECUTION_PROVIDERS=webgpu,cpu to try a GPU)
 * On a GPU host, BENCH_MODELS=sd15,sdxl (registry ids installed in MODELS_DIR) adds real models,
 * each rendered at its native size.
 * Options by environment: BENCH_JOBS (8), BENCH_ROUNDS (3), BENCH_SIZE (px, 512), BENCH_STEPS (25), ENGINE_THREADS.
 */
const JOBS = Number(process.env.BENCH_JOBS ?? 8);
const SIZE = Number(process.env.BENCH_SIZE ?? 512);
const STEPS = Number(process.env.BENCH_STEPS ?? 25);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCHES = [1, 2, 4];
const providers = (process.env.EXECUTION_PROVIDERS ?? 'cpu')
  .split(',')
  .map((p) => p.trim()) as ProviderName[];
const threads = Number(process.env.ENGINE_THREADS ?? 0);

function entry(id: string): ModelEntry {
  return {
    id,
    aliases: [],
    description: `batch benchmark model ${id}`,
    kind: 'txt2img',
    folder: id,
    nativeResolution: 512,
    renderScale: 1,
    latentMultiple: 8,
    defaults: { steps: STEPS, guidance: 7.5, scheduler: 'euler' },
    limits: { minSteps: 1, maxSteps: 150 },
    nsfwScreening: 'not-needed',
  };
}

/** A model to measure, the store and catalog it loads from, and the size it renders. */
interface BenchModel {
  id: string;
  store: ModelStore;
  catalog: Registry;
  size: number;
}

const dir = await mkdtemp(join(tmpdir(), 'easel-bench-batch-'));
await writeTinyModel(join(dir, 'tiny'));
await writeBenchModel(join(dir, 'synthetic'), 64, 4);
const builtCatalog = { models: [entry('tiny'), entry('synthetic')] };
const builtStore = new ModelStore(
  { modelsDir: dir, providers, threads, builtin: NO_BUILTINS },
  builtCatalog,
  createLogger('warn'),
);
const models: BenchModel[] = ['tiny', 'synthetic'].map((id) => ({
  id,
  store: builtStore,
  catalog: builtCatalog,
  size: SIZE,
}));
const installed = (process.env.BENCH_MODELS ?? '').split(',').filter((id) => id.trim() !== '');
const modelsDir = process.env.MODELS_DIR ?? './models';
const installedCatalog = installed.length > 0 ? loadCatalog(modelsDir) : { models: [] };
const installedStore = new ModelStore(
  { modelsDir, providers, threads, builtin: NO_BUILTINS },
  installedCatalog,
  createLogger('warn'),
);
for (const id of installed) {
  const found = findModel(installedCatalog, id.trim());
  if (found === undefined) throw new Error(`BENCH_MODELS: ${id} is not in the registry of ${modelsDir}`);
  models.push({
    id: found.id,
    store: installedStore,
    catalog: installedCatalog,
    size: found.nativeResolution,
  });
}

function requests(model: BenchModel): GenerationRequest[] {
  return Array.from({ length: JOBS }, (_, i) => ({
    mode: 'txt2img',
    prompt: `a lighthouse on a cliff, picture ${i}`,
    negativePrompt: 'blurry',
    model: model.id,
    width: model.size,
    height: model.size,
    steps: STEPS,
    guidance: 7.5,
    sampler: 'euler',
    seed: 1000 + i,
    count: 1,
  }));
}

const options = (model: BenchModel, extra: Partial<GenerateOptions> = {}): GenerateOptions => ({
  store: model.store,
  catalog: model.catalog,
  maxPixels: 4096 * 4096,
  images: { load: async () => Buffer.alloc(0) },
  ...extra,
});

/** Renders the jobs in consecutive batches of `batch`, as a worker with WORKER_BATCH=batch would. */
async function imagesPerSecond(model: BenchModel, batch: number): Promise<number> {
  const jobs = requests(model);
  const started = performance.now();
  for (let start = 0; start < jobs.length; start += batch) {
    const members = jobs.slice(start, start + batch);
    const rendezvous = new DenoiseRendezvous(members.length);
    await Promise.all(
      members.map(async (request) => {
        try {
          return await generatePictures(request, options(model, { denoise: rendezvous.denoise }));
        } finally {
          rendezvous.leave();
        }
      }),
    );
  }
  return jobs.length / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const figures: Record<string, Record<string, number>> = {};
let provider = '';
for (const model of models) {
  // Warm-up: the first runs load the sessions and grow onnxruntime's arena.
  provider = (await generatePictures(requests(model)[0]!, options(model))).provider;
  await imagesPerSecond(model, 4);
  const runs = new Map<number, number[]>(BATCHES.map((b) => [b, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const batch of BATCHES) runs.get(batch)!.push(await imagesPerSecond(model, batch));
  }
  figures[`${model.id}@${model.size}`] = Object.fromEntries(
    BATCHES.map((b) => [`batch${b}`, median(runs.get(b)!)]),
  );
}

console.log(
  `batching benchmark: ${JOBS} one-image jobs (median of ${ROUNDS} rounds), txt2img (model@size px), ${STEPS} euler steps, guidance 7.5; provider ${provider}; threads ${threads || 'default'}`,
);
console.log(
  `${'model'.padEnd(16)} ${BATCHES.map((b) => `batch ${b} img/s`.padStart(15)).join(' ')} ${'speed-up at 4'.padStart(14)}`,
);
for (const [model, row] of Object.entries(figures)) {
  console.log(
    `${model.padEnd(16)} ${BATCHES.map((b) => row[`batch${b}`]!.toFixed(2).padStart(15)).join(' ')} ${(row.batch4! / row.batch1!).toFixed(2).padStart(13)}x`,
  );
}
console.log(
  JSON.stringify({
    bench: 'batch',
    provider,
    steps: STEPS,
    jobs: JOBS,
    rounds: ROUNDS,
    images_per_s: Object.fromEntries(
      Object.entries(figures).map(([model, row]) => [
        model,
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v.toFixed(3))])),
      ]),
    ),
    speedup_at_4: Object.fromEntries(
      Object.entries(figures).map(([model, row]) => [model, Number((row.batch4! / row.batch1!).toFixed(3))]),
    ),
  }),
);
await builtStore.release();
await installedStore.release();
await rm(dir, { recursive: true, force: true });
