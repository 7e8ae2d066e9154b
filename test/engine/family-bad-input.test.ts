import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRole } from '../../src/app/role.ts';
import { createServices, type Services } from '../../src/app/services.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { NO_BUILTINS } from '../../src/engine/engine-settings.ts';
import { generatePictures } from '../../src/engine/generate-pictures.ts';
import { ModelStore } from '../../src/engine/model-store.ts';
import { writeTinyFamilyModel } from '../../src/engine/tiny/tiny-families.ts';
import { writeTinyClassifier } from '../../src/engine/tiny/tiny-model-folder.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { detectModelFamily } from '../../src/models/model-family.ts';
import { isInstalled, missingModelFiles } from '../../src/models/model-folder.ts';
import type { JobView } from '../../src/queue/job-view.ts';
import { startGenerateRole } from '../../src/queue/worker-role.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { familyEntry, familyOptions, familyRequest, familyWorld } from '../support/tiny-families.ts';
import type { TinyWorld } from '../support/tiny-models.ts';

/**
 * Folders that are wrong in the ways a family's download or hand assembly goes wrong, each refused
 * with a message that names the problem; through the worker, each job fails for good and refunds.
 */
let world: TinyWorld;

/** A copy of a tiny family folder under a new id, changed by `damage`. */
function brokenCopy(from: string, id: string, damage: (dir: string) => void): void {
  const dir = join(world.modelsDir, id);
  cpSync(join(world.modelsDir, from), dir, { recursive: true });
  damage(dir);
  world.catalog.models.push(familyEntry('sdxl', { id, folder: id, nsfwScreening: 'not-needed' }));
}

beforeAll(async () => {
  world = await familyWorld({ families: ['sd2', 'sdxl', 'sdxl-refiner', 'sd3'] });
  await writeTinyFamilyModel(join(world.modelsDir, 'tiny-sdxl-fixed'), 'sdxl', { fixedLatentSize: 8 });
  world.catalog.models.push(familyEntry('sdxl', { id: 'tiny-sdxl-fixed', folder: 'tiny-sdxl-fixed' }));
  brokenCopy('tiny-sdxl', 'sdxl-no-te2', (dir) => rmSync(join(dir, 'text_encoder_2', 'model.onnx')));
  brokenCopy('tiny-sd3', 'sd3-no-transformer', (dir) =>
    rmSync(join(dir, 'transformer'), { recursive: true }),
  );
  // An SD 2 UNet (16-wide text, no text_embeds) with SD 2's own encoder but SDXL's model_index.
  brokenCopy('tiny-sd2', 'sd2-with-sdxl-encoder', (dir) => {
    rmSync(join(dir, 'text_encoder'), { recursive: true });
    cpSync(join(world.modelsDir, 'tiny-sdxl', 'text_encoder'), join(dir, 'text_encoder'), {
      recursive: true,
    });
  });
  brokenCopy('tiny-sdxl', 'sdxl-with-refiner-unet', (dir) => {
    rmSync(join(dir, 'unet'), { recursive: true });
    cpSync(join(world.modelsDir, 'tiny-sdxl-refiner', 'unet'), join(dir, 'unet'), { recursive: true });
  });
  brokenCopy('tiny-sdxl', 'sdxl-with-sd2-unet', (dir) => {
    rmSync(join(dir, 'unet'), { recursive: true });
    cpSync(join(world.modelsDir, 'tiny-sd2', 'unet'), join(dir, 'unet'), { recursive: true });
  });
  brokenCopy('tiny-sdxl', 'sdxl-sd2-text-encoder', (dir) => {
    rmSync(join(dir, 'text_encoder'), { recursive: true });
    cpSync(join(world.modelsDir, 'tiny-sd2', 'text_encoder'), join(dir, 'text_encoder'), { recursive: true });
  });
  brokenCopy('tiny-sd3', 'flux-like', (dir) =>
    writeFileSync(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'FluxPipeline' })),
  );
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

function render(model: string, overrides: Partial<GenerationRequest> = {}) {
  return generatePictures(familyRequest('sdxl', { model, ...overrides }), familyOptions(world));
}

describe('folders of a family with a part missing or mismatched', () => {
  it('names the missing component of the family the folder is', async () => {
    const dir = join(world.modelsDir, 'sdxl-no-te2');
    expect(() => detectModelFamily(dir)).toThrow(
      /is a Stable Diffusion XL model \(model_index.json: StableDiffusionXLPipeline\) but text_encoder_2\/model.onnx is missing/,
    );
    const entry = world.catalog.models.find((m) => m.id === 'sdxl-no-te2')!;
    expect(missingModelFiles(entry, dir)).toEqual(['text_encoder_2/model.onnx']);
    expect(isInstalled(entry, world.modelsDir)).toBe(false);
    await expect(render('sdxl-no-te2')).rejects.toThrow(/text_encoder_2\/model.onnx is missing/);
    await expect(render('sd3-no-transformer')).rejects.toThrow(/transformer\/model.onnx is missing/);
  });

  it('refuses a folder of no family it knows', async () => {
    await expect(render('flux-like')).rejects.toThrow(
      /matches no model family easel knows .*_class_name is FluxPipeline/,
    );
  });

  it("refuses a UNet of one family with another family's text encoder, naming both widths", async () => {
    await expect(render('sd2-with-sdxl-encoder')).rejects.toThrow(
      /unet\/model.onnx takes encoder_hidden_states 16 wide but text_encoder gives 8: the folder mixes parts of different models/,
    );
    await expect(render('sdxl-with-refiner-unet')).rejects.toThrow(
      /unet\/model.onnx takes encoder_hidden_states 12 wide but text_encoder \+ text_encoder_2 gives 20/,
    );
    await expect(render('sdxl-with-sd2-unet')).rejects.toThrow(/unet\/model.onnx has no input "text_embeds"/);
    // SD 2's encoder has no hidden_states.N: SDXL cannot read its penultimate layer.
    await expect(render('sdxl-sd2-text-encoder')).rejects.toThrow(
      /text_encoder\/model.onnx has no hidden_states.N outputs .*Stable Diffusion XL reads the penultimate layer/,
    );
  });

  it('refuses another size on a fixed-size export, naming the one it renders', async () => {
    await expect(render('tiny-sdxl-fixed', { width: 128, height: 128 })).rejects.toThrow(
      /tiny-sdxl-fixed renders only 64x64; ask for that size/,
    );
    const out = await render('tiny-sdxl-fixed', { width: 64, height: 64 });
    expect(out.pictures[0]!.width).toBe(64);
  });

  it('refuses at load, naming its size, a model whose weights outgrow the free memory', async () => {
    const store = new ModelStore(
      {
        modelsDir: world.modelsDir,
        providers: ['cpu'],
        threads: 1,
        builtin: NO_BUILTINS,
        availableMemory: () => 4096,
      },
      world.catalog,
      createLogger('silent'),
    );
    try {
      await expect(
        generatePictures(familyRequest('sd3'), { ...familyOptions(world), store }),
      ).rejects.toThrow(
        /model "tiny-sd3" needs about \d+ KB of memory for its weights \(text_encoder, text_encoder_2, text_encoder_3, transformer, vae_decoder\) but only 4 KB is free/,
      );
    } finally {
      await store.release();
    }
  });
});

describe('through the generate worker', () => {
  let artifactsDir: string;
  let services: Services;
  let role: RunningRole;
  const who: MemberRef = { scope: { kind: 'cli', id: 'family-tests' }, userId: 'painter' };
  let counter = 0;

  beforeAll(async () => {
    // These exports have no safety_checker/: the worker screens them with the installed classifier.
    await writeTinyClassifier(join(world.modelsDir, 'nsfw-classifier'));
    artifactsDir = await mkdtemp(join(tmpdir(), 'easel-family-artifacts-'));
    const artifacts = new DiskArtifactStore(artifactsDir);
    const config = parseConfig({
      REDIS_URL: testRedisUrl(),
      LOG_LEVEL: 'silent',
      MODELS_DIR: world.modelsDir,
      ARTIFACTS_DIR: artifactsDir,
      DEFAULT_DAILY_ALLOWANCE: '1000',
      DEFAULT_COOLDOWN_S: '0',
      DEFAULT_PENDING_CAP: '1000',
      DUPLICATE_WINDOW_S: '0',
      NSFW_CLASSIFIER: 'none',
      EXECUTION_PROVIDERS: 'cpu',
      ENGINE_THREADS: '1',
    });
    const prefix = uniquePrefix('family-worker');
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
    await rm(artifactsDir, { recursive: true, force: true });
  });

  async function run(overrides: Partial<GenerationRequest>): Promise<JobView> {
    counter++;
    const admitted = await services.admission.admit({
      requestId: `family-${counter}-${Date.now()}`,
      member: who,
      origin: { platform: 'cli' },
      request: familyRequest('sdxl', { prompt: `a red circle number ${counter}`, ...overrides }),
    });
    if (!admitted.accepted) throw new Error(`not admitted: ${admitted.message}`);
    const view = await services.jobs.waitForResult(admitted.jobId, 20_000);
    if (view === undefined || (view.state !== 'completed' && view.state !== 'failed')) {
      throw new Error(`job did not finish: ${JSON.stringify(view?.state)}`);
    }
    return view;
  }

  it('renders SDXL and screens its pictures with the installed classifier', async () => {
    const view = await run({ count: 2 });
    expect(view.state).toBe('completed');
    expect(view.result!.images).toHaveLength(2);
    for (const image of view.result!.images) expect(image.nsfw?.nsfw).toBe(false);
  });

  it.each([
    ['sdxl-with-refiner-unet', {}, /damaged or incomplete/],
    ['sdxl-sd2-text-encoder', {}, /damaged or incomplete/],
    ['tiny-sdxl-fixed', { width: 128, height: 128 }, /renders only 64x64/],
  ] as const)('fails %s for good and refunds', async (model, overrides, reason) => {
    const before = await services.credits.balance(who);
    const view = await run({ model, ...overrides });
    expect(view.state).toBe('failed');
    expect(view.failedReason).toMatch(reason);
    expect(view.attemptsMade).toBe(1);
    const after = await services.credits.balance(who);
    expect(after.total).toBe(before.total);
    expect(after.reserved).toBe(0);
  });
});
