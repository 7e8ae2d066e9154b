import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ProviderName } from '../src/engine/execution-providers.ts';
import type { RgbImage } from '../src/engine/image-io.ts';
import { ModelStore } from '../src/engine/model-store.ts';
import { nsfwjsScreen } from '../src/engine/nsfwjs-screen.ts';
import { upscaleTiled } from '../src/engine/tiled-upscale.ts';
import { createLogger } from '../src/log/logger.ts';

/**
 * The built-in networks' cost: NSFW screening per picture (nsfwjs MobileNetV2, preprocessing
 * included) and ESRGAN upscaling per input megapixel (2x and 4x, in the worker's 192 px tiles), on
 * the engine's execution providers. Conversions go to a temporary cache, so the first-use
 * conversion time is measured too.
 *
 *   node --import tsx bench/screening.ts      (EXECUTION_PROVIDERS=cuda,cpu on a GPU host; UPSCALER=esrgan-medium)
 */
const providers = (process.env.EXECUTION_PROVIDERS ?? 'cpu')
  .split(',')
  .map((p) => p.trim()) as ProviderName[];
const threads = Number(process.env.ENGINE_THREADS ?? 0);
const upscaler = (process.env.UPSCALER ?? 'esrgan-slim') as 'esrgan-slim' | 'esrgan-medium' | 'esrgan-thick';
const SCREENS = Number(process.env.BENCH_SCREENS ?? 20);
const SIDE = Number(process.env.BENCH_UPSCALE_SIDE ?? 512);

const cacheDir = await mkdtemp(join(tmpdir(), 'easel-bench-converted-'));
const store = new ModelStore(
  {
    modelsDir: cacheDir,
    providers,
    threads,
    builtin: { classifier: 'nsfwjs-mobilenet-v2', upscaler, cacheDir },
  },
  { models: [] },
  createLogger('warn'),
);

async function picture(side: number): Promise<RgbImage> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><defs><radialGradient id="g"><stop offset="0" stop-color="#ffe0c0"/><stop offset="1" stop-color="#402010"/></radialGradient></defs><rect width="${side}" height="${side}" fill="#87ceeb"/><circle cx="${side / 2}" cy="${side / 2}" r="${side / 3}" fill="url(#g)"/><text x="10" y="${side / 8}" font-size="${side / 10}">easel</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const converting = performance.now();
const classifier = (await store.builtinClassifier())!;
const classifierFirstUse = performance.now() - converting;
const screen = nsfwjsScreen(classifier.session, { porn: 0.5, hentai: 0.5, sexy: 0.8 });
const rendered = await picture(512);
await screen(rendered);
const screenStart = performance.now();
for (let i = 0; i < SCREENS; i++) await screen(rendered);
const screenMs = (performance.now() - screenStart) / SCREENS;

const input = await picture(SIDE);
const megapixels = (SIDE * SIDE) / 1e6;
const figures: Record<string, number | string> = {
  provider: classifier.provider,
  classifier_first_use_ms: Math.round(classifierFirstUse),
  screen_ms_per_image: Number(screenMs.toFixed(1)),
};
console.log(`built-in networks on ${classifier.provider} (threads ${threads || 'default'})`);
console.log(
  `nsfwjs MobileNetV2: ${screenMs.toFixed(1)} ms per 512x512 picture (mean of ${SCREENS}); first use (convert + load) ${Math.round(classifierFirstUse)} ms`,
);
for (const factor of [2, 4] as const) {
  const first = performance.now();
  const network = (await store.builtinUpscaler(factor))!;
  const firstUse = performance.now() - first;
  const overlap = Math.min(48, Math.max(16, network.receptiveRadius));
  await upscaleTiled(network.session, await picture(64), { tile: 192, overlap });
  const started = performance.now();
  await upscaleTiled(network.session, input, { tile: 192, overlap });
  const ms = performance.now() - started;
  const perMp = ms / megapixels;
  figures[`upscale_${factor}x_ms_per_input_megapixel`] = Math.round(perMp);
  figures[`upscale_${factor}x_ms_per_output_megapixel`] = Math.round(perMp / (factor * factor));
  console.log(
    `${upscaler} ${factor}x: ${Math.round(ms)} ms for ${SIDE}x${SIDE} -> ${SIDE * factor}x${SIDE * factor}: ${Math.round(perMp)} ms per input megapixel, ${Math.round(perMp / (factor * factor))} ms per output megapixel; first use ${Math.round(firstUse)} ms`,
  );
}
console.log(JSON.stringify(figures));
await store.release();
await rm(cacheDir, { recursive: true, force: true });
