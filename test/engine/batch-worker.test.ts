import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRole } from '../../src/app/role.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import type { JobView } from '../../src/queue/job-view.ts';
import { startGenerateRole } from '../../src/queue/worker-role.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { type TinyWorld, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

/**
 * Cross-user batching end to end: real Redis, admission, the real generate worker role and the
 * tiny model. Jobs are queued while no worker runs, then a worker is started, so what it batches
 * is decided by the queue alone.
 */
let world: TinyWorld;
let artifactsDir: string;
let artifacts: DiskArtifactStore;
let services: Services;
let prefix: string;
let role: RunningRole | undefined;
/** The worker's log lines (JSON), where it says which jobs it rendered as one batch. */
let lines: Record<string, unknown>[] = [];

const env = (batch: number) => ({
  REDIS_URL: testRedisUrl(),
  LOG_LEVEL: 'info',
  MODELS_DIR: world.modelsDir,
  ARTIFACTS_DIR: artifactsDir,
  DEFAULT_DAILY_ALLOWANCE: '1000',
  DEFAULT_COOLDOWN_S: '0',
  DEFAULT_PENDING_CAP: '1000',
  DUPLICATE_WINDOW_S: '0',
  MAX_PIXELS: String(512 * 512),
  EXECUTION_PROVIDERS: 'cpu',
  ENGINE_THREADS: '1',
  NSFW_CLASSIFIER: 'none',
  UPSCALER: 'lanczos',
  WORKER_BATCH: String(batch),
});

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny'] });
  artifactsDir = await mkdtemp(join(tmpdir(), 'easel-batch-artifacts-'));
  artifacts = new DiskArtifactStore(artifactsDir);
  prefix = uniquePrefix('batch-worker');
  const config = parseConfig({ ...env(1), LOG_LEVEL: 'silent' });
  services = await createServices(config, createLogger('silent'), {
    prefix,
    artifacts,
    registry: world.catalog,
  });
});

afterEach(async () => {
  await role?.stop();
  role = undefined;
});

afterAll(async () => {
  await services?.close();
  await rm(world.modelsDir, { recursive: true, force: true });
  await rm(artifactsDir, { recursive: true, force: true });
});

async function startWorker(batch: number, cancelPollMs?: number): Promise<void> {
  lines = [];
  const logger = createLogger('info', {
    write: (line: string) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  role = await startGenerateRole(
    { config: parseConfig(env(batch)), logger },
    {
      prefix,
      artifacts,
      catalog: world.catalog,
      warmUp: false,
      ...(cancelPollMs !== undefined ? { cancelPollMs } : {}),
    },
  );
}

/** The batches the worker rendered, as the job ids of each (a job rendered alone is in none). */
function batches(): string[][] {
  return lines.filter((l) => l.msg === 'rendering a batch').map((l) => l.jobs as string[]);
}

function denoiseRuns(): number[] {
  return lines.filter((l) => l.msg === 'denoising together').map((l) => l.jobs as number);
}

let counter = 0;
const member = (name: string): MemberRef => ({ scope: { kind: 'cli', id: 'batch-tests' }, userId: name });

async function queue(who: MemberRef, overrides: Partial<GenerationRequest> = {}): Promise<string> {
  counter++;
  const admitted = await services.admission.admit({
    requestId: `batch-${counter}-${Date.now()}`,
    member: who,
    origin: { platform: 'cli' },
    request: tinyRequest({ prompt: `a red circle number ${counter}`, seed: 100 + counter, ...overrides }),
  });
  if (!admitted.accepted) throw new Error(`not admitted: ${admitted.message}`);
  return admitted.jobId;
}

async function finished(jobId: string): Promise<JobView> {
  const view = await services.jobs.waitForResult(jobId, 30_000);
  if (view === undefined || !['completed', 'failed', 'cancelled'].includes(view.state)) {
    throw new Error(`job ${jobId} did not finish: ${JSON.stringify(view?.state)}`);
  }
  return view;
}

async function pixels(view: JobView): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const image of view.result!.images) {
    const stored = await artifacts.get(image.artifactId);
    out.push(await sharp(stored!.bytes).raw().toBuffer());
  }
  return out;
}

async function balance(who: MemberRef) {
  return services.credits.balance(who);
}

describe('a generate worker with WORKER_BATCH', () => {
  it("renders four members' compatible jobs as one batch, each image exactly as it is alone", async () => {
    const requests: Partial<GenerationRequest>[] = [
      { prompt: 'a red circle', seed: 7 },
      { prompt: 'a green square', seed: 123456, guidance: 8, count: 2 },
      { prompt: 'blue stripes', negativePrompt: '', seed: 99 },
      { prompt: 'a yellow sun', seed: 31337, guidance: 3 },
    ];
    const members = requests.map((_, i) => member(`four-${i}`));
    const before = await Promise.all(members.map(balance));
    const ids: string[] = [];
    for (let i = 0; i < requests.length; i++) ids.push(await queue(members[i]!, requests[i]));
    await startWorker(4);
    const views = await Promise.all(ids.map(finished));
    expect(views.map((v) => v.state)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(batches()).toEqual([ids]);
    expect(denoiseRuns()).toEqual([4]);
    // Each job's own progress, to its last step.
    for (const view of views) expect(view.progress).toEqual({ step: 4, total: 4 });
    // Charged each job's own cost, once.
    for (let i = 0; i < members.length; i++) {
      const after = await balance(members[i]!);
      expect(after.reserved).toBe(0);
      expect(before[i]!.total - after.total).toBe(views[i]!.data.cost);
    }
    const batched = await Promise.all(views.map(pixels));
    await role!.stop();
    role = undefined;

    // The same requests again, one job at a time: WORKER_BATCH=1 renders as before, no batch at all.
    const aloneIds: string[] = [];
    for (let i = 0; i < requests.length; i++) aloneIds.push(await queue(members[i]!, requests[i]));
    await startWorker(1);
    const aloneViews = await Promise.all(aloneIds.map(finished));
    expect(aloneViews.map((v) => v.state)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(batches()).toEqual([]);
    expect(denoiseRuns()).toEqual([]);
    const alone = await Promise.all(aloneViews.map(pixels));
    for (let i = 0; i < requests.length; i++) {
      expect(batched[i]).toHaveLength(alone[i]!.length);
      for (const [k, picture] of batched[i]!.entries())
        expect(Buffer.compare(picture, alone[i]![k]!)).toBe(0);
    }
    expect(Buffer.compare(batched[0]![0]!, batched[2]![0]!)).not.toBe(0);
  });

  it('ends a batch at the first job that does not fit and keeps the fair order', async () => {
    const [a, b, c, d] = ['fair-a', 'fair-b', 'fair-c', 'fair-d'].map(member) as [
      MemberRef,
      MemberRef,
      MemberRef,
      MemberRef,
    ];
    const a1 = await queue(a);
    // A's second job ranks after everyone's first, wherever it was queued.
    const a2 = await queue(a);
    const b1 = await queue(b);
    const c1 = await queue(c, { steps: 6 });
    const d1 = await queue(d);
    await startWorker(4);
    const views = await Promise.all([a1, a2, b1, c1, d1].map(finished));
    expect(views.every((v) => v.state === 'completed')).toBe(true);
    // Head order is a1, b1, c1, d1, a2: c1 (other steps) ends the first batch and renders alone.
    expect(batches()).toEqual([
      [a1, b1],
      [d1, a2],
    ]);
    const rendered = lines.filter((l) => l.msg === 'rendered').map((l) => l.jobId);
    expect(rendered.indexOf(c1)).toBeGreaterThan(Math.max(rendered.indexOf(a1), rendered.indexOf(b1)));
    expect(rendered.indexOf(c1)).toBeLessThan(Math.min(rendered.indexOf(d1), rendered.indexOf(a2)));
  });

  it('fails only the job whose input picture is bad, refunds it, and charges the others', async () => {
    const good = { artifactId: await artifacts.put(await png(), { contentType: 'image/png' }) };
    const bad = {
      artifactId: await artifacts.put(Buffer.from('%PDF-1.4 not a picture'), {
        contentType: 'application/octet-stream',
      }),
    };
    const img2img = { mode: 'img2img' as const, strength: 0.5 };
    const members = ['bad-0', 'bad-1', 'bad-2'].map(member);
    const before = await Promise.all(members.map(balance));
    const ids = [
      await queue(members[0]!, { ...img2img, initImage: good }),
      await queue(members[1]!, { ...img2img, initImage: bad }),
      await queue(members[2]!, { ...img2img, initImage: good, seed: 5 }),
    ];
    await startWorker(4);
    const views = await Promise.all(ids.map(finished));
    expect(views.map((v) => v.state)).toEqual(['completed', 'failed', 'completed']);
    expect(views[1]!.failedReason).toMatch(/initImage: the file is not a readable image/);
    expect(views[1]!.attemptsMade).toBe(1);
    expect(batches()).toEqual([ids]);
    expect(denoiseRuns()).toEqual([2]);
    const after = await Promise.all(members.map(balance));
    expect(after[1]).toEqual(before[1]);
    for (const i of [0, 2]) {
      expect(after[i]!.reserved).toBe(0);
      expect(before[i]!.total - after[i]!.total).toBe(views[i]!.data.cost);
    }
  });

  it('cancels one job mid-render: it leaves between steps, is refunded, the others complete', async () => {
    const members = ['cancel-0', 'cancel-1', 'cancel-2'].map(member);
    const before = await Promise.all(members.map(balance));
    const slow = { width: 512, height: 512, steps: 50 };
    const ids: string[] = [];
    for (const who of members) ids.push(await queue(who, slow));
    // Three tiny 50-step renders take a fraction of a second: the cancel is looked for every 10 ms,
    // and sent as soon as the first step's progress event arrives.
    const started = new Promise<void>((resolve) => {
      const off = services.progress.onProgress(({ jobId }) => {
        if (jobId !== ids[1]) return;
        off();
        resolve();
      });
    });
    await services.progress.queueEvents();
    await startWorker(3, 10);
    await started;
    await services.jobs.cancel(ids[1]!, members[1]!);
    const views = await Promise.all(ids.map(finished));
    expect(views.map((v) => v.state)).toEqual(['completed', 'cancelled', 'completed']);
    expect(batches()).toEqual([ids]);
    const after = await Promise.all(members.map(balance));
    expect(after[1]).toEqual(before[1]);
    // It left early: the others went on to the last step after it stopped.
    const stoppedAt = views[1]!.progress?.step ?? 0;
    expect(stoppedAt).toBeLessThan(50);
    for (const i of [0, 2]) expect(before[i]!.total - after[i]!.total).toBe(views[i]!.data.cost);
  });
});

async function png(): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();
}
