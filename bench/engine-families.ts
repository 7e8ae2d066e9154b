import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-node';
import { denoise } from '../src/engine/denoise.ts';
import type { DenoiseFunction } from '../src/engine/denoise-rendezvous.ts';
import type { DiffusionModel } from '../src/engine/diffusion-model.ts';
import { NO_BUILTINS } from '../src/engine/engine-settings.ts';
import type { ProviderName } from '../src/engine/execution-providers.ts';
import { generatePictures } from '../src/engine/generate-pictures.ts';
import { ModelStore } from '../src/engine/model-store.ts';
import {
  TINY_FAMILIES,
  type TinyFamily,
  tinyFamilyEntry,
  writeTinyFamilyModel,
} from '../src/engine/tiny/tiny-families.ts';
import { writeTinyModel } from '../src/engine/tiny/tiny-model-folder.ts';
import { createLogger } from '../src/log/logger.ts';
import type { ModelEntry } from '../src/models/registry.ts';

/**
 * Per family, on its tiny model (`easel models tiny --family`): the session load time, and for a
 * whole txt2img render (text encoders, denoising loop with guidance, VAE decode, resize) the share
 * of its wall time spent outside every session.run: easel's own work.
 */
export interface FamilyFigures {
  family: string;
  loadMs: number;
  renderMs: number;
  runMs: number;
  /** Of the render's wall time. */
  outsideShare: number;
  /**
   * Of the process's CPU time (every thread) during the render: unlike wall time, it does not count
   * the time a loaded machine keeps the process waiting for a core.
   */
  outsideCpuShare: number;
  /** easel's own time per render, in ms of wall time. */
  outsideMs: number;
  /**
   * Of the denoising loop's wall time alone (starting noise, the steps' inputs, guidance and
   * scheduler steps, from the denoise call to its latents), the share outside the denoiser's
   * session.run: the figure bench:engine's synthetic-UNet table gives, per family.
   */
  loopOutsideShare: number;
  /** easel's own CPU time per render, in ms: what a loaded machine changes least. */
  outsideCpuMs: number;
  /**
   * Of `outsideMs`, V8's garbage-collection pauses per render: mostly collecting onnxruntime's
   * output buffers (a fresh one every session.run).
   */
  gcMs: number;
}

/** Renders before measuring, and renders measured (their mean is reported). */
const WARMUP_RENDERS = Number(process.env.BENCH_WARMUP ?? 5);
const MEASURED_RENDERS = Number(process.env.BENCH_RENDERS ?? 10);
/** Channels of the full-resolution block added to each tiny VAE decoder (benchDecoderBlock). */
const VAE_WIDTH = Number(process.env.BENCH_VAE_WIDTH ?? 16);

interface Spent {
  ms: number;
  cpuUs: number;
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Wraps each session of the model so the wall and CPU time inside session.run add up in `spent`,
 * and the denoiser's wall time in `denoiser` too.
 */
function timeSessions(model: DiffusionModel, spent: Spent, denoiser: { ms: number }): void {
  const sessions: InferenceSession[] = [
    ...model.textEncoders.flatMap((e) => (e !== undefined ? [e.session] : [])),
    model.denoiser.session,
    model.vaeDecoder.session,
  ];
  for (const session of sessions) {
    const run = session.run.bind(session);
    const isDenoiser = session === model.denoiser.session;
    session.run = (async (...args: Parameters<typeof run>) => {
      const began = performance.now();
      const cpu = cpuUs();
      try {
        return await run(...args);
      } finally {
        // Both cpuUsage calls inside the timed window: the measuring is not counted as easel's work.
        spent.cpuUs += cpuUs() - cpu;
        const ms = performance.now() - began;
        spent.ms += ms;
        if (isDenoiser) denoiser.ms += ms;
      }
    }) as typeof session.run;
  }
}

export async function benchFamilies(
  providers: ProviderName[],
  threads: number,
  size: number,
  steps: number,
  denoiserWidth: number,
): Promise<FamilyFigures[]> {
  const dir = await mkdtemp(join(tmpdir(), 'easel-bench-families-'));
  const figures: FamilyFigures[] = [];
  try {
    const only = process.env.BENCH_FAMILIES?.split(',').map((f) => f.trim());
    for (const family of ['sd1', ...TINY_FAMILIES] as const) {
      if (only !== undefined && !only.includes(family)) continue;
      const folder = `tiny-${family}`;
      if (family === 'sd1')
        await writeTinyModel(join(dir, folder), { unetWidth: denoiserWidth, vaeDecoderWidth: VAE_WIDTH });
      else
        await writeTinyFamilyModel(join(dir, folder), family as TinyFamily, {
          denoiserWidth,
          vaeDecoderWidth: VAE_WIDTH,
        });
      const base =
        family === 'sd1'
          ? {
              ...tinyFamilyEntry('sdxl'),
              family: 'sd1',
              defaults: { steps: 4, guidance: 5, scheduler: 'euler' as const },
            }
          : tinyFamilyEntry(family as TinyFamily);
      const entry: ModelEntry = {
        ...base,
        id: folder,
        aliases: [],
        folder,
        renderScale: 1,
        nativeResolution: size,
      };
      const catalog = { models: [entry] };
      const store = new ModelStore(
        { modelsDir: dir, providers, threads, builtin: NO_BUILTINS },
        catalog,
        createLogger('warn'),
      );
      const { model, loadMs } = await store.diffusionModel(entry, false);
      const request = {
        mode: 'txt2img' as const,
        prompt: 'a red circle on a blue background',
        negativePrompt: family.startsWith('sdxl') ? '' : 'blurry',
        model: folder,
        width: size,
        height: size,
        steps: entry.defaults.guidance === 0 ? 1 : steps,
        guidance: entry.defaults.guidance === 0 ? 0 : 5,
        sampler: entry.defaults.scheduler,
        seed: 42,
        count: 1,
      };
      const loop = { ms: 0, denoiser: { ms: 0 } };
      const timedDenoise: DenoiseFunction = async (request) => {
        const began = performance.now();
        try {
          return await denoise(request);
        } finally {
          loop.ms += performance.now() - began;
        }
      };
      const options = {
        store,
        catalog,
        maxPixels: 4096 * 4096,
        images: { load: async () => Buffer.alloc(0) },
        denoise: timedDenoise,
      };
      // Warm-up: onnxruntime allocates its arenas and V8 optimises the hot loops, as in a worker that
      // has rendered a few jobs.
      // Each render its own prompt, as a new job's: a repeated one would be served the text
      // encoders' recent outputs (recent-encodings.ts) and skip their runs.
      let renders = 0;
      const next = () => ({ ...request, prompt: `${request.prompt}, render ${renders++}` });
      for (let i = 0; i < WARMUP_RENDERS; i++) await generatePictures(next(), options);
      const spent = { ms: 0, cpuUs: 0 };
      timeSessions(model, spent, loop.denoiser);
      loop.ms = 0;
      const gc = { ms: 0 };
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) gc.ms += entry.duration;
      });
      observer.observe({ entryTypes: ['gc'] });
      const started = performance.now();
      const cpu = cpuUs();
      for (let i = 0; i < MEASURED_RENDERS; i++) await generatePictures(next(), options);
      const renderCpu = cpuUs() - cpu;
      const renderMs = (performance.now() - started) / MEASURED_RENDERS;
      // The observer is called asynchronously: the last renders' entries arrive after a turn.
      await new Promise((resolve) => setImmediate(resolve));
      observer.disconnect();
      spent.ms /= MEASURED_RENDERS;
      figures.push({
        family,
        loadMs,
        renderMs,
        runMs: spent.ms,
        outsideShare: (renderMs - spent.ms) / renderMs,
        outsideCpuShare: (renderCpu - spent.cpuUs) / renderCpu,
        outsideMs: renderMs - spent.ms,
        loopOutsideShare: (loop.ms - loop.denoiser.ms) / loop.ms,
        outsideCpuMs: (renderCpu - spent.cpuUs) / 1000 / MEASURED_RENDERS,
        gcMs: gc.ms / MEASURED_RENDERS,
      });
      await store.release();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}
