import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { denoise } from '../src/engine/denoise.ts';
import { NO_BUILTINS } from '../src/engine/engine-settings.ts';
import type { ProviderName } from '../src/engine/execution-providers.ts';
import { generatePictures } from '../src/engine/generate-pictures.ts';
import { ModelStore } from '../src/engine/model-store.ts';
import { createScheduler } from '../src/engine/schedulers/index.ts';
import { encodeText } from '../src/engine/text-conditioning.ts';
import { createLogger } from '../src/log/logger.ts';
import type { ModelEntry } from '../src/models/registry.ts';
import type { GenerationRequest } from '../src/request/types.ts';
import { benchFamilies } from './engine-families.ts';
import { writeBenchModel } from './engine-synthetic-model.ts';

/**
 * Engine benchmark: a 512x512 (64x64 latents), 25-step request with classifier-free guidance on a
 * synthetic UNet heavy enough to dominate, through the real denoising loop. Measures the time per
 * step and the share of the loop's wall time spent outside the UNet's session.run (our own work:
 * tensors, guidance, scheduler, noise), for one image and for a batch of four.
 *
 *   node --import tsx bench/engine.ts        (EXECUTION_PROVIDERS=webgpu,cpu to try a GPU)
 * Options by environment: BENCH_WIDTH (UNet channels, 64), BENCH_DEPTH (3x3 convs, 4), BENCH_STEPS (25).
 *
 * Then, per model family on its tiny model (easel models tiny --family): the session load time and
 * the share of a whole render's time outside session.run, at BENCH_FAMILY_SIZE (512) px rendered
 * 1:1 (64x64 latents), BENCH_STEPS steps, after BENCH_WARMUP (3) renders, the mean of BENCH_RENDERS
 * (3). As in a real model the networks do the bulk of the work: the tiny denoiser is widened to
 * BENCH_WIDTH channels and each tiny VAE decoder gets a full-resolution block of BENCH_VAE_WIDTH (16)
 * channels (a real decoder's last blocks run 128). The table also gives easel's own time in ms, which does
 * not depend on how heavy the networks are, and how much of it is V8's garbage collection.
 */
const STEPS = Number(process.env.BENCH_STEPS ?? 25);
const WIDTH = Number(process.env.BENCH_WIDTH ?? 64);
const DEPTH = Number(process.env.BENCH_DEPTH ?? 4);
const providers = (process.env.EXECUTION_PROVIDERS ?? 'cpu')
  .split(',')
  .map((p) => p.trim()) as ProviderName[];
const threads = Number(process.env.ENGINE_THREADS ?? 0);

const entry: ModelEntry = {
  id: 'bench',
  aliases: [],
  description: 'synthetic benchmark model',
  kind: 'txt2img',
  folder: 'bench',
  nativeResolution: 512,
  renderScale: 1,
  latentMultiple: 8,
  defaults: { steps: STEPS, guidance: 7.5, scheduler: 'dpmpp_2m_karras' },
  limits: { minSteps: 1, maxSteps: 150 },
  nsfwScreening: 'not-needed',
};

const dir = await mkdtemp(join(tmpdir(), 'easel-bench-'));
await writeBenchModel(join(dir, 'bench'), WIDTH, DEPTH);
const store = new ModelStore(
  { modelsDir: dir, providers, threads, builtin: NO_BUILTINS },
  { models: [entry] },
  createLogger('warn'),
);
const { model } = await store.diffusionModel(entry, false);

interface LoopFigures {
  stepMs: number;
  overheadShare: number;
  loopMs: number;
  unetMs: number;
}

async function loop(count: number): Promise<LoopFigures> {
  const text = await encodeText(model, 'a lighthouse on a cliff at sunset', 'blurry', {
    width: 512,
    height: 512,
  });
  const unetTime = { ms: 0 };
  const started = performance.now();
  await denoise({
    model,
    scheduler: createScheduler('dpmpp_2m_karras', model.schedulerConfig),
    steps: STEPS,
    strength: 1,
    guidance: 7.5,
    seeds: Array.from({ length: count }, (_, i) => 42 + i),
    latentWidth: 64,
    latentHeight: 64,
    text,
    unetTime,
  });
  const loopMs = performance.now() - started;
  return {
    stepMs: loopMs / STEPS,
    overheadShare: (loopMs - unetTime.ms) / loopMs,
    loopMs,
    unetMs: unetTime.ms,
  };
}

let fullRenders = 0;

async function fullRender(count: number): Promise<number> {
  const request: GenerationRequest = {
    mode: 'txt2img',
    // Its own prompt each time, as a new job's (a repeated one skips the text encoder).
    prompt: `a lighthouse on a cliff at sunset, render ${fullRenders++}`,
    negativePrompt: 'blurry',
    model: 'bench',
    width: 512,
    height: 512,
    steps: STEPS,
    guidance: 7.5,
    sampler: 'dpmpp_2m_karras',
    seed: 42,
    count,
  };
  const started = performance.now();
  await generatePictures(request, {
    store,
    catalog: { models: [entry] },
    maxPixels: 1536 * 1536,
    images: { load: async () => Buffer.alloc(0) },
  });
  return performance.now() - started;
}

/** The run of median overhead among `runs`: one slow run on a shared machine does not decide the figure. */
async function medianLoop(count: number, runs: number): Promise<LoopFigures> {
  const figures: LoopFigures[] = [];
  for (let i = 0; i < runs; i++) figures.push(await loop(count));
  figures.sort((a, b) => a.overheadShare - b.overheadShare);
  return figures[Math.floor(runs / 2)]!;
}

// Warm-up: the first runs allocate onnxruntime's arenas and let V8 optimise the loop's code, as in a
// worker that has rendered a few jobs.
for (let i = 0; i < 3; i++) await loop(1);
await loop(4);
const single = await medianLoop(1, 3);
const batch4 = await medianLoop(4, 3);
const fullSingle = await fullRender(1);

const row = (label: string, f: LoopFigures) =>
  `${label.padEnd(22)} ${f.stepMs.toFixed(1).padStart(9)} ${f.loopMs.toFixed(0).padStart(9)} ${f.unetMs.toFixed(0).padStart(9)} ${(f.overheadShare * 100).toFixed(2).padStart(9)}%`;
console.log(
  `engine benchmark: 512x512 (64x64 latents), ${STEPS} steps, guidance 7.5 (UNet batch 2 per image), dpmpp_2m_karras`,
);
console.log(
  `synthetic UNet: ${DEPTH} convs x ${WIDTH} channels at 64x64; provider ${model.provider}; threads ${threads || 'default'}`,
);
console.log(
  `${'run'.padEnd(22)} ${'step ms'.padStart(9)} ${'loop ms'.padStart(9)} ${'unet ms'.padStart(9)} ${'outside'.padStart(10)}`,
);
console.log(row('1 image', single));
console.log(row('batch of 4 images', batch4));
console.log(
  `${'full render, 1 image'.padEnd(22)} ${'-'.padStart(9)} ${fullSingle.toFixed(0).padStart(9)}   (text encoder + loop + VAE + resize)`,
);
console.log(
  JSON.stringify({
    step_ms: Number(single.stepMs.toFixed(2)),
    overhead_share: Number(single.overheadShare.toFixed(4)),
    batch4_step_ms: Number(batch4.stepMs.toFixed(2)),
    batch4_overhead_share: Number(batch4.overheadShare.toFixed(4)),
    provider: model.provider,
  }),
);
await store.release();
await rm(dir, { recursive: true, force: true });

const familySize = Number(process.env.BENCH_FAMILY_SIZE ?? 512);
const families = await benchFamilies(providers, threads, familySize, STEPS, WIDTH);
console.log(
  `\nper family, tiny model, txt2img ${familySize}x${familySize} rendered 1:1, ${STEPS} steps (turbo: 1), whole render`,
);
console.log(
  `${'family'.padEnd(14)} ${'load ms'.padStart(9)} ${'render ms'.padStart(10)} ${'run ms'.padStart(9)} ${'outside ms'.padStart(11)} ${'of it gc'.padStart(9)} ${'outside'.padStart(9)} ${'outside cpu'.padStart(12)} ${'loop outside'.padStart(13)}`,
);
for (const f of families) {
  console.log(
    `${f.family.padEnd(14)} ${f.loadMs.toFixed(0).padStart(9)} ${f.renderMs.toFixed(0).padStart(10)} ${f.runMs.toFixed(0).padStart(9)} ${f.outsideMs.toFixed(1).padStart(11)} ${f.gcMs.toFixed(1).padStart(9)} ${(f.outsideShare * 100).toFixed(2).padStart(8)}% ${(f.outsideCpuShare * 100).toFixed(2).padStart(11)}% ${(f.loopOutsideShare * 100).toFixed(2).padStart(12)}%`,
  );
}
console.log(
  JSON.stringify({
    families: families.map((f) => ({
      family: f.family,
      load_ms: f.loadMs,
      outside_ms: Number(f.outsideMs.toFixed(1)),
      outside_share: Number(f.outsideShare.toFixed(4)),
      outside_cpu_share: Number(f.outsideCpuShare.toFixed(4)),
      gc_ms: Number(f.gcMs.toFixed(1)),
      loop_outside_share: Number(f.loopOutsideShare.toFixed(4)),
    })),
  }),
);
