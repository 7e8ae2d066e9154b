import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { InferenceSession } from 'onnxruntime-node';
import { generatePictures } from '../src/engine/generate-pictures.ts';
import { type LoraRequest, mergeLoras } from '../src/engine/lora/lora-merge.ts';
import {
  buildLoraSessions,
  createLoraSessionCache,
  loraCombinationKey,
} from '../src/engine/lora/lora-sessions.ts';
import { OnnxModelWeights } from '../src/engine/lora/onnx-model-weights.ts';
import { createLogger } from '../src/log/logger.ts';
import {
  buildNamedModel,
  dyadic,
  type NamedModelSpec,
  runNamed,
  writeLora,
  writeWithExternalData,
} from '../test/lora/named-models.ts';
import { writeTinyLora } from '../test/support/tiny-loras.ts';
import { tinyRequest, tinyWorld } from '../test/support/tiny-models.ts';

/**
 * LoRA benchmark: the time to merge a rank-32 kohya LoRA (float16, as they are shared) into
 * LAYERS attention projections of SD 1.5's widest size (1280x1280, Optimum's anonymous MatMul
 * weights in an external data file), reported per 100 MB of rewritten weights, for a float32 and a
 * float16 model; then the time until a session of the combination has run once, uncached (merge +
 * session creation) and cached, against a plain session of the model; last, a job's start (to its
 * first denoising step) through the model store on the tiny SD 1.x model, with no LoRA, an uncached
 * combination and a cached one.
 *
 *   node --import tsx bench/lora.ts      (BENCH_LAYERS, BENCH_RANK, BENCH_ROUNDS to change it)
 */
const LAYERS = Number(process.env.BENCH_LAYERS ?? 16);
const RANK = Number(process.env.BENCH_RANK ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WIDTH = 1280;
const dir = mkdtempSync(join(tmpdir(), 'easel-bench-lora-'));
const silent = createLogger('info', new Writable({ write: (_chunk, _encoding, done) => done() }));

const modules = Array.from(
  { length: LAYERS },
  (_, i) =>
    `down_blocks.${i % 4}.attentions.${i % 2}.transformer_blocks.${Math.floor(i / 8)}.attn1.to_${'qkv'[i % 3]}`,
);
// Distinct module paths: the indices above repeat for more than 24 layers.
const unique = [...new Set(modules)];

function writeModel(dtype: 'float32' | 'float16'): string {
  const spec: NamedModelSpec = { channels: WIDTH, linears: unique, dtype };
  const folder = mkdtempSync(join(dir, `${dtype}-`));
  return writeWithExternalData(buildNamedModel(spec), folder, 'model.onnx_data');
}

function writeBenchLora(): LoraRequest {
  const tensors: Parameters<typeof writeLora>[1] = {};
  unique.forEach((module, i) => {
    const flat = `lora_unet_${module.replaceAll('.', '_')}`;
    tensors[`${flat}.lora_down.weight`] = {
      dtype: 'F16',
      shape: [RANK, WIDTH],
      values: dyadic(i, RANK * WIDTH, 64),
    };
    tensors[`${flat}.lora_up.weight`] = {
      dtype: 'F16',
      shape: [WIDTH, RANK],
      values: dyadic(i + 1000, RANK * WIDTH, 64),
    };
    tensors[`${flat}.alpha`] = { dtype: 'F16', shape: [], values: new Float32Array([RANK / 2]) };
  });
  return { name: 'bench', path: writeLora(join(dir, 'bench.safetensors'), tensors), strength: 0.8 };
}

async function timeMerge(
  weights: OnnxModelWeights,
  lora: LoraRequest,
): Promise<{ ms: number; bytes: number }> {
  let best = Number.POSITIVE_INFINITY;
  let bytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const merged = await mergeLoras({ unet: weights }, [lora]);
    best = Math.min(best, merged.mergeMs);
    bytes = merged.affectedBytes;
  }
  return { ms: best, bytes };
}

try {
  const lora = writeBenchLora();
  console.log(
    `LoRA benchmark: rank ${RANK}, ${unique.length} layers of ${WIDTH}x${WIDTH}, best of ${ROUNDS}`,
  );
  const figures: Record<string, number> = {};
  for (const dtype of ['float32', 'float16'] as const) {
    const weights = await OnnxModelWeights.load(writeModel(dtype));
    const { ms, bytes } = await timeMerge(weights, lora);
    const per100 = (ms / bytes) * 100e6;
    figures[`merge_ms_per_100mb_${dtype}`] = Math.round(per100);
    console.log(
      `merge into ${dtype} weights: ${(bytes / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms = ${per100.toFixed(0)} ms per 100 MB`,
    );
  }

  const spec: NamedModelSpec = { channels: WIDTH, linears: unique, dtype: 'float16' };
  const path = writeModel('float16');
  const weights = await OnnxModelWeights.load(path);
  let began = performance.now();
  const base = await InferenceSession.create(path);
  await runNamed(base, spec);
  const baseMs = performance.now() - began;
  await base.release();
  const cache = createLoraSessionCache(2 * 1024 ** 3);
  const start = async () => {
    const t = performance.now();
    await cache.use(
      loraCombinationKey('bench', [lora]),
      () => buildLoraSessions({ unet: weights }, [lora], silent),
      async ({ sessions }) => runNamed(sessions.get('unet')!, spec),
    );
    return performance.now() - t;
  };
  const uncachedMs = await start();
  let cachedMs = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) cachedMs = Math.min(cachedMs, await start());
  await cache.clear();
  began = performance.now();
  figures.base_session_ms = Math.round(baseMs);
  figures.uncached_combination_ms = Math.round(uncachedMs);
  figures.cached_combination_ms = Number(cachedMs.toFixed(2));
  console.log(`first run of the float16 model: plain session ${baseMs.toFixed(0)} ms`);
  console.log(
    `  with the LoRA, uncached (merge + session): ${uncachedMs.toFixed(0)} ms; cached: ${cachedMs.toFixed(2)} ms`,
  );

  // A job's start through the model store, on the tiny SD 1.x model: from the render's call to its
  // first denoising step, with no LoRA, with an uncached combination and with the same one cached.
  const world = await tinyWorld({ variants: ['tiny'] });
  try {
    writeTinyLora(world.modelsDir, 'bench');
    const firstStep = async (loras: { name: string; strength: number }[]) => {
      const t = performance.now();
      let at = 0;
      await generatePictures(tinyRequest({ steps: 1, ...(loras.length > 0 ? { loras } : {}) }), {
        store: world.store,
        catalog: world.catalog,
        images: { load: async () => Buffer.alloc(0) },
        maxPixels: 1 << 20,
        onProgress: () => {
          at ||= performance.now() - t;
        },
      });
      return at;
    };
    await firstStep([]);
    const plainStart = await firstStep([]);
    const uncachedStart = await firstStep([{ name: 'bench', strength: 0.8 }]);
    let cachedStart = Number.POSITIVE_INFINITY;
    for (let r = 0; r < ROUNDS; r++)
      cachedStart = Math.min(cachedStart, await firstStep([{ name: 'bench', strength: 0.8 }]));
    figures.job_start_plain_ms = Number(plainStart.toFixed(1));
    figures.job_start_uncached_lora_ms = Number(uncachedStart.toFixed(1));
    figures.job_start_cached_lora_ms = Number(cachedStart.toFixed(1));
    console.log(
      `job start (tiny SD 1.x model, first step): no LoRA ${plainStart.toFixed(1)} ms; uncached LoRA ${uncachedStart.toFixed(1)} ms; cached ${cachedStart.toFixed(1)} ms`,
    );
  } finally {
    await world.store.release();
    rmSync(world.modelsDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(figures));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
