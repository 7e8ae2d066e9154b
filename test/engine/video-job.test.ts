import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRole } from '../../src/app/role.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { computeCost, ratesFromConfig } from '../../src/credits/cost.ts';
import { readPngText } from '../../src/engine/png-text.ts';
import { ffmpegVersion } from '../../src/engine/video/ffmpeg.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { startGenerateRole } from '../../src/queue/worker-role.ts';
import type { GenerationRequest, VideoRequest } from '../../src/request/types.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { type TinyWorld, tinyRequest, tinyWorld } from '../support/tiny-models.ts';
import { until } from '../support/until.ts';

let world: TinyWorld;
let artifactsDir: string;
let artifacts: DiskArtifactStore;
let services: Services;
let role: RunningRole;
let config: ReturnType<typeof parseConfig>;

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny'] });
  artifactsDir = await mkdtemp(join(tmpdir(), 'easel-video-artifacts-'));
  artifacts = new DiskArtifactStore(artifactsDir);
  config = parseConfig({
    REDIS_URL: testRedisUrl(),
    LOG_LEVEL: 'silent',
    MODELS_DIR: world.modelsDir,
    ARTIFACTS_DIR: artifactsDir,
    DEFAULT_DAILY_ALLOWANCE: '100000',
    DEFAULT_COOLDOWN_S: '0',
    DEFAULT_PENDING_CAP: '1000',
    DUPLICATE_WINDOW_S: '0',
    EXECUTION_PROVIDERS: 'cpu',
    ENGINE_THREADS: '1',
    // A credit per 64x64 frame would round every clip to its frame count; this makes shares visible.
    CREDITS_PER_IMAGE: '1000',
  });
  const prefix = uniquePrefix('engine-video');
  const logger = createLogger('silent');
  services = await createServices(config, logger, { prefix, artifacts, registry: world.catalog });
  role = await startGenerateRole(
    { config, logger },
    { prefix, artifacts, catalog: world.catalog, warmUp: false },
  );
});

afterAll(async () => {
  await role?.stop();
  await services?.close();
  await rm(world.modelsDir, { recursive: true, force: true });
  await rm(artifactsDir, { recursive: true, force: true });
});

let counter = 0;
const who: MemberRef = { scope: { kind: 'cli', id: 'video-tests' }, userId: 'animator' };

function clip(video: Partial<VideoRequest>, overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  counter++;
  return tinyRequest({
    prompt: `a red circle number ${counter}`,
    video: { frames: 8, fps: 8, loop: false, mode: 'walk', ...video },
    ...overrides,
  });
}

async function admit(request: GenerationRequest) {
  const admitted = await services.admission.admit({
    requestId: `video-${counter}-${Date.now()}`,
    member: who,
    origin: { platform: 'cli' },
    request,
  });
  if (!admitted.accepted) throw new Error(`not admitted: ${admitted.message}`);
  return admitted;
}

describe('clip jobs on the generate worker', () => {
  it('stores the clip in every format with its content type, and a poster with the parameters', async () => {
    const before = await services.credits.balance(who);
    const request = clip(
      { frames: 8, fps: 4, mode: 'morph', to: 'a blue square' },
      { width: 128, height: 64 },
    );
    const admitted = await admit(request);
    const view = await services.jobs.waitForResult(admitted.jobId, 60_000);
    expect(view?.state).toBe('completed');
    const video = view!.result!.video!;
    expect(video).toMatchObject({
      frames: 8,
      fps: 4,
      loop: false,
      mode: 'morph',
      width: 128,
      height: 64,
      durationMs: 2000,
    });
    const formats = video.files.map((f) => f.format);
    expect(formats).toEqual(ffmpegVersion() === undefined ? ['webp', 'gif'] : ['webp', 'gif', 'mp4']);
    for (const file of video.files) {
      const stored = await artifacts.get(file.artifactId);
      expect(stored?.meta.contentType).toBe(file.contentType);
      expect(stored?.bytes.length).toBe(file.bytes);
      if (file.format !== 'mp4') {
        const meta = await sharp(stored!.bytes, { animated: true }).metadata();
        expect([meta.format, meta.pages, meta.width, meta.pageHeight]).toEqual([file.format, 8, 128, 64]);
      }
    }
    const poster = await artifacts.get(view!.result!.images[0]!.artifactId);
    expect(readPngText(poster!.bytes).parameters).toMatch(
      /Video: morph, Frames: 8, FPS: 4, Morph to: a blue square/,
    );
    // The clip costs its frames.
    const cost = computeCost(request, ratesFromConfig(config));
    expect(admitted.cost).toBe(cost);
    expect(cost).toBe(computeCost({ ...request, video: undefined }, ratesFromConfig(config)) * 8);
    const after = await services.credits.balance(who);
    expect(before.total - after.total).toBe(cost);
  });

  it('cancelled part way, stops between frames and refunds the frames not rendered', async () => {
    const before = await services.credits.balance(who);
    const request = clip({ frames: 48 }, { width: 128, height: 128, steps: 20 });
    const admitted = await admit(request);
    let progress: { step: number; total: number } | undefined;
    await until(async () => {
      progress = (await services.jobs.get(admitted.jobId))?.progress;
      return progress !== undefined && progress.step >= 2;
    }, 30_000);
    const outcome = await services.jobs.cancel(admitted.jobId, who);
    expect(outcome.was).toBe('active');
    const view = await services.jobs.get(admitted.jobId);
    expect(view?.result).toBeUndefined();
    const after = await services.credits.balance(who);
    expect(after.reserved).toBe(0);
    const kept = Math.round((before.total - after.total) * 1000) / 1000;
    // Charged for a whole number of finished frames (at least the two seen, not all 48), the rest refunded.
    const frames = Array.from({ length: 46 }, (_, i) => i + 2).find(
      (d) => Math.floor((admitted.cost * 1000 * d) / 48) / 1000 === kept,
    );
    expect(frames, `kept ${kept} of ${admitted.cost}`).toBeDefined();
    expect(outcome.refunded).toBeCloseTo(admitted.cost - kept, 3);
  });
});
