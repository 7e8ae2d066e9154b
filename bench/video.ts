import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_BUILTINS } from '../src/engine/engine-settings.ts';
import { ModelStore } from '../src/engine/model-store.ts';
import { writeTinyModel } from '../src/engine/tiny/tiny-model-folder.ts';
import { encodeClip } from '../src/engine/video/encode-clip.ts';
import { generateClip } from '../src/engine/video/generate-clip.ts';
import { createLogger } from '../src/log/logger.ts';
import type { ModelEntry } from '../src/models/registry.ts';
import type { GenerationRequest, VideoMode } from '../src/request/types.ts';

/**
 * Video benchmark: clips of BENCH_FRAMES (16) frames on the tiny model, shown at BENCH_SIZE (512) px
 * and rendered at 1/8 of that (64x64 pixels, as easel-mini), BENCH_STEPS (4) steps with guidance, for
 * each motion. Reports the time per frame, the UNet's session.run share of it, and the rest (ours:
 * noise and its slerp, conditioning blends, the drift's zoom and re-encode, the VAE and text
 * encoder runs, resizing to the display size); then the time to encode the clip in each format.
 *
 *   npm run bench:video            (EXECUTION_PROVIDERS=webgpu,cpu to try a GPU)
 */
const FRAMES = Number(process.env.BENCH_FRAMES ?? 16);
const SIZE = Number(process.env.BENCH_SIZE ?? 512);
const STEPS = Number(process.env.BENCH_STEPS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const providers = (process.env.EXECUTION_PROVIDERS ?? 'cpu').split(',').map((p) => p.trim()) as (
  | 'cpu'
  | 'webgpu'
  | 'cuda'
)[];

const entry: ModelEntry = {
  id: 'tiny',
  aliases: [],
  description: 'easel tiny model',
  kind: 'txt2img',
  folder: 'tiny',
  nativeResolution: SIZE,
  renderScale: 8,
  latentMultiple: 2,
  defaults: { steps: STEPS, guidance: 5, scheduler: 'euler' },
  limits: { minSteps: 1, maxSteps: 50 },
  nsfwScreening: 'not-needed',
};

const dir = await mkdtemp(join(tmpdir(), 'easel-bench-video-'));
await writeTinyModel(join(dir, 'tiny'));
const catalog = { models: [entry] };
const store = new ModelStore(
  { modelsDir: dir, providers, threads: Number(process.env.ENGINE_THREADS ?? 0), builtin: NO_BUILTINS },
  catalog,
  createLogger('warn'),
);

function request(mode: VideoMode, seed: number): GenerationRequest {
  return {
    mode: 'txt2img',
    // Its own prompt each clip, as a new job's (a repeated one skips the text encoder).
    prompt: `a lighthouse on a cliff at sunset, clip ${seed}`,
    negativePrompt: 'blurry',
    model: 'tiny',
    width: SIZE,
    height: SIZE,
    steps: STEPS,
    guidance: 5,
    sampler: 'euler',
    seed,
    count: 1,
    video: {
      frames: FRAMES,
      fps: 8,
      loop: false,
      mode,
      ...(mode === 'morph' ? { to: 'a castle in the fog' } : {}),
    },
  };
}

const options = (unetTime: { ms: number }) => ({
  store,
  catalog,
  maxPixels: 2048 * 2048,
  unetTime,
  images: {
    load: async (): Promise<Buffer> => {
      throw new Error('no uploaded image');
    },
  },
});

// Load the sessions once, outside the figures.
await generateClip(request('drift', 1), options({ ms: 0 }));

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(
  `clips of ${FRAMES} frames, ${SIZE}x${SIZE} shown (64x64 rendered), ${STEPS} steps, ${providers.join(',')}; median of ${ROUNDS}`,
);
console.log('motion  ms/frame  in UNet session.run  outside it  (share outside)');
let frames: Awaited<ReturnType<typeof generateClip>>['frames'] = [];
for (const mode of ['walk', 'morph', 'drift'] as const) {
  const totals: number[] = [];
  const unets: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const unetTime = { ms: 0 };
    const started = performance.now();
    const clip = await generateClip(request(mode, 100 + round), options(unetTime));
    totals.push((performance.now() - started) / FRAMES);
    unets.push(unetTime.ms / FRAMES);
    frames = clip.frames;
  }
  const total = median(totals);
  const unet = median(unets);
  console.log(
    `${mode.padEnd(6)}  ${total.toFixed(2).padStart(8)}  ${unet.toFixed(2).padStart(19)}  ${(total - unet).toFixed(2).padStart(10)}  (${Math.round((100 * (total - unet)) / total)}%)`,
  );
}

const encodeTimes: number[] = [];
let sizes = '';
for (let round = 0; round < ROUNDS; round++) {
  const started = performance.now();
  const files = await encodeClip(frames, 8);
  encodeTimes.push(performance.now() - started);
  sizes = files.map((f) => `${f.format} ${Math.round(f.bytes.length / 1024)} KiB`).join(', ');
}
console.log(
  `encoding the ${FRAMES}-frame clip (every format): ${median(encodeTimes).toFixed(0)} ms; ${sizes}`,
);
for (const format of ['webp', 'gif', 'mp4'] as const) {
  const started = performance.now();
  const made = await encodeOne(format);
  if (made) console.log(`  ${format}: ${(performance.now() - started).toFixed(0)} ms`);
}

async function encodeOne(format: 'webp' | 'gif' | 'mp4'): Promise<boolean> {
  const sharp = (await import('sharp')).default;
  const { encodeMp4, ffmpegVersion } = await import('../src/engine/video/ffmpeg.ts');
  const { width, height } = frames[0]!;
  if (format === 'mp4') {
    if (ffmpegVersion() === undefined) {
      console.log('  mp4: ffmpeg not installed');
      return false;
    }
    await encodeMp4(
      frames.map((f) => f.data),
      width,
      height,
      8,
    );
    return true;
  }
  const raw = sharp(Buffer.concat(frames.map((f) => f.data)), {
    raw: { width, height: height * frames.length, channels: 3, pageHeight: height },
  });
  await (format === 'webp'
    ? raw.webp({ loop: 0, quality: 85, effort: 2 })
    : raw.gif({ loop: 0, effort: 1 })
  ).toBuffer();
  return true;
}

await store.release();
await rm(dir, { recursive: true, force: true });
