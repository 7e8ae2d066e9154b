import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRole } from '../../src/app/role.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { readPngText } from '../../src/engine/png-text.ts';
import { writeTinyModel } from '../../src/engine/tiny/tiny-model-folder.ts';
import { buildUnet } from '../../src/engine/tiny/tiny-models.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import type { JobView } from '../../src/queue/job-view.ts';
import { startGenerateRole } from '../../src/queue/worker-role.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { loraPair, writeLora } from '../lora/named-models.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { tinyLoraFolder, writeTinyLora } from '../support/tiny-loras.ts';
import { type TinyWorld, tinyEntry, tinyRequest, tinyWorld } from '../support/tiny-models.ts';

let world: TinyWorld;
let artifactsDir: string;
let artifacts: DiskArtifactStore;
let services: Services;
let role: RunningRole;

const BROKEN = ['broken-missing', 'broken-incomplete', 'broken-corrupt', 'broken-layout'];

beforeAll(async () => {
  world = await tinyWorld({ variants: ['tiny', 'tiny-inpaint'] });
  // Models that are wrong in each way a deployment can get them wrong. broken-incomplete is whole
  // when the worker starts (so it announces it) and loses its UNet later, under the running worker.
  await writeTinyModel(join(world.modelsDir, 'broken-incomplete'));
  await writeTinyModel(join(world.modelsDir, 'broken-corrupt'));
  await writeFile(join(world.modelsDir, 'broken-corrupt', 'unet', 'model.onnx'), 'this is not a protobuf');
  await writeTinyModel(join(world.modelsDir, 'broken-layout'));
  // A UNet built for 16-wide text states, beside a text encoder that gives 32.
  await writeFile(
    join(world.modelsDir, 'broken-layout', 'unet', 'model.onnx'),
    buildUnet({ inChannels: 4, outChannels: 4, contextDim: 16 }),
  );
  for (const id of BROKEN) world.catalog.models.push(tinyEntry(id, { nsfwScreening: 'not-needed' }));

  artifactsDir = await mkdtemp(join(tmpdir(), 'easel-worker-artifacts-'));
  artifacts = new DiskArtifactStore(artifactsDir);
  const config = parseConfig({
    REDIS_URL: testRedisUrl(),
    LOG_LEVEL: 'silent',
    MODELS_DIR: world.modelsDir,
    ARTIFACTS_DIR: artifactsDir,
    DEFAULT_DAILY_ALLOWANCE: '1000',
    DEFAULT_COOLDOWN_S: '0',
    DEFAULT_PENDING_CAP: '1000',
    DUPLICATE_WINDOW_S: '0',
    MAX_PIXELS: String(128 * 128),
    EXECUTION_PROVIDERS: 'cpu',
    ENGINE_THREADS: '1',
  });
  const prefix = uniquePrefix('engine-worker');
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
const who: MemberRef = { scope: { kind: 'cli', id: 'engine-tests' }, userId: 'painter' };

async function run(overrides: Partial<GenerationRequest>): Promise<JobView> {
  counter++;
  const admitted = await services.admission.admit({
    requestId: `engine-${counter}-${Date.now()}`,
    member: who,
    origin: { platform: 'cli' },
    request: tinyRequest({ prompt: `a red circle number ${counter}`, ...overrides }),
  });
  if (!admitted.accepted) throw new Error(`not admitted: ${admitted.message}`);
  const view = await services.jobs.waitForResult(admitted.jobId, 20_000);
  if (view === undefined || (view.state !== 'completed' && view.state !== 'failed')) {
    throw new Error(`job did not finish: ${JSON.stringify(view?.state)}`);
  }
  return view;
}

async function storeImage(bytes: Buffer): Promise<string> {
  return artifacts.put(bytes, { contentType: 'application/octet-stream' });
}

async function png(width: number, height: number, colour = '#3366cc'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

/** A PNG whose header claims 30000x30000 pixels: what a decompression bomb looks like to a decoder. */
async function bomb(): Promise<Buffer> {
  const real = await png(8, 8);
  const out = Buffer.from(real);
  out.writeUInt32BE(30_000, 16);
  out.writeUInt32BE(30_000, 20);
  const { crc32 } = await import('node:zlib');
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}

async function expectRefundedFailure(overrides: Partial<GenerationRequest>, reason: RegExp): Promise<void> {
  const before = await services.credits.balance(who);
  const view = await run(overrides);
  expect(view.state).toBe('failed');
  expect(view.failedReason).toMatch(reason);
  // Final at once: no second attempt for a job that can never succeed.
  expect(view.attemptsMade).toBe(1);
  const after = await services.credits.balance(who);
  expect(after.total).toBe(before.total);
  expect(after.reserved).toBe(0);
}

describe('the generate worker on tiny models', () => {
  it('renders four images, stores PNGs with their parameters and a 2x2 grid, and screens each', async () => {
    const view = await run({ count: 4, seed: 1000, width: 64, height: 64 });
    expect(view.state).toBe('completed');
    const result = view.result!;
    expect(result.images.map((i) => i.seed)).toEqual([1000, 1001, 1002, 1003]);
    expect(result.provider).toBe('cpu');
    expect(result.timings.totalMs).toBeGreaterThan(0);
    for (const image of result.images) {
      expect(image.nsfw).toEqual({ nsfw: false, score: 0 });
      const stored = await artifacts.get(image.artifactId);
      expect(stored?.meta.contentType).toBe('image/png');
      expect(stored?.bytes.length).toBe(image.bytes);
      const meta = await sharp(stored!.bytes).metadata();
      expect([meta.width, meta.height]).toEqual([64, 64]);
      const parameters = readPngText(stored!.bytes).parameters!;
      expect(parameters).toContain(`Seed: ${image.seed}`);
      expect(parameters).toContain('Sampler: Euler, CFG scale: 5');
      expect(parameters.split('\n')[1]).toBe('Negative prompt: blurry');
    }
    const grid = await artifacts.get(result.grid!.artifactId);
    const gridMeta = await sharp(grid!.bytes).metadata();
    expect([gridMeta.width, gridMeta.height]).toEqual([result.grid!.width, result.grid!.height]);
    expect(result.grid!.width).toBe(2 * 64 + 4);
  });

  it('renders img2img from an image in the artifact store', async () => {
    const initImage = { artifactId: await storeImage(await png(100, 80)) };
    const view = await run({ mode: 'img2img', initImage, strength: 0.5 });
    expect(view.state).toBe('completed');
    const stored = await artifacts.get(view.result!.images[0]!.artifactId);
    expect(readPngText(stored!.bytes).parameters).toContain('Denoising strength: 0.5');
  });

  it('fails for good and refunds when the init image is not an image', async () => {
    const initImage = { artifactId: await storeImage(Buffer.from('%PDF-1.4 definitely not a picture')) };
    await expectRefundedFailure(
      { mode: 'img2img', initImage, strength: 0.5 },
      /initImage: the file is not a readable image/,
    );
  });

  it('fails for good and refunds on a decompression bomb, without decoding it', async () => {
    const initImage = { artifactId: await storeImage(await bomb()) };
    await expectRefundedFailure(
      { mode: 'img2img', initImage, strength: 0.5 },
      /initImage: the image is too large/,
    );
  });

  it('fails for good and refunds when the mask is not the size of the image', async () => {
    const initImage = { artifactId: await storeImage(await png(64, 64)) };
    const maskImage = { artifactId: await storeImage(await png(32, 32, '#ffffff')) };
    await expectRefundedFailure(
      { mode: 'inpaint', initImage, maskImage, strength: 1 },
      /maskImage: the mask is 32x32 but the image is 64x64/,
    );
  });

  it('fails for good and refunds when the strength is outside 0..1', async () => {
    const initImage = { artifactId: await storeImage(await png(64, 64)) };
    await expectRefundedFailure(
      { mode: 'img2img', initImage, strength: 1.5 },
      /strength: must be a number from 0 to 1/,
    );
  });

  it('fails for good and refunds when an upscale would pass MAX_PIXELS', async () => {
    const initImage = { artifactId: await storeImage(await png(64, 64)) };
    await expectRefundedFailure(
      { mode: 'upscale', initImage, upscale: 4, width: 64, height: 64 },
      /4x of a 64x64 image is 256x256, over this server's limit of 16384 pixels/,
    );
  });

  it('refuses at admission a model no worker has installed, reserving nothing', async () => {
    const before = await services.credits.balance(who);
    const error = await services.admission
      .admit({
        requestId: `engine-missing-${Date.now()}`,
        member: who,
        origin: { platform: 'cli' },
        request: tinyRequest({ model: 'broken-missing' }),
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/broken-missing is not installed on any render worker/);
    expect(await services.credits.balance(who)).toEqual(before);
  });

  it('refuses at admission a LoRA file that lies about its header, reserving nothing', async () => {
    const lying = Buffer.alloc(64);
    lying.writeBigUInt64LE(100n * 1024n * 1024n + 1n, 0);
    await writeFile(join(tinyLoraFolder(world.modelsDir), 'liar.safetensors'), lying);
    const before = await services.credits.balance(who);
    const error = await services.admission
      .admit({
        requestId: `engine-liar-${Date.now()}`,
        member: who,
        origin: { platform: 'cli' },
        request: tinyRequest({ loras: [{ name: 'liar', strength: 1 }] }),
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'LoRA "liar" cannot be used: liar.safetensors is not a valid safetensors file: its header claims 104857601 bytes, over the 104857600-byte limit',
    );
    expect(await services.credits.balance(who)).toEqual(before);
  });

  it('fails for good and refunds a LoRA whose layers match nothing in the model, then renders the next LoRA job', async () => {
    const stray = loraPair(9, 2, 32, [32]);
    writeLora(join(tinyLoraFolder(world.modelsDir), 'elsewhere.safetensors'), {
      'lora_unet_mid_block_attentions_0_proj_in.lora_down.weight': stray.down,
      'lora_unet_mid_block_attentions_0_proj_in.lora_up.weight': stray.up,
    });
    await expectRefundedFailure(
      { loras: [{ name: 'elsewhere', strength: 1 }] },
      /^LoRA "elsewhere" matches no layer of this model \(its keys: lora_unet \(1\)\)\.$/,
    );
    writeTinyLora(world.modelsDir, 'detail');
    const view = await run({ loras: [{ name: 'detail', strength: 0.7 }] });
    expect(view.state).toBe('completed');
    const stored = await artifacts.get(view.result!.images[0]!.artifactId);
    const parameters = readPngText(stored!.bytes).parameters!;
    expect(parameters.split('\n')[0]).toMatch(/<lora:detail:0\.7>$/);
    expect(parameters).toMatch(/Lora hashes: "detail: [0-9a-f]{12}"/);
  });

  it('fails for good and refunds when the model loses a file under the running worker', async () => {
    await rm(join(world.modelsDir, 'broken-incomplete', 'unet', 'model.onnx'));
    await expectRefundedFailure({ model: 'broken-incomplete' }, /not installed/);
  });

  it.each([
    ['broken-corrupt', /damaged or incomplete/],
    ['broken-layout', /damaged or incomplete/],
  ])('fails for good and refunds when the model is %s', async (model, reason) => {
    await expectRefundedFailure({ model }, reason);
  });
});
