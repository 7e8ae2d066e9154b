import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputImageScreening } from '../../src/admission/input-image-screening.ts';
import type { AdmissionInput } from '../../src/admission/types.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { NsfwPolicy } from '../../src/quotas/quota-policy.ts';
import { tinyRequest } from '../support/tiny-models.ts';

let dir: string;
let artifacts: DiskArtifactStore;
let drawingId: string;
const screenings: InputImageScreening[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-input-screening-'));
  artifacts = new DiskArtifactStore(join(dir, 'artifacts'));
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><rect width="300" height="200" fill="#fffdf5"/><rect x="60" y="80" width="180" height="100" fill="#d33"/><polygon points="40,80 150,20 260,80" fill="#642"/></svg>';
  drawingId = await artifacts.put(await sharp(Buffer.from(svg)).png().toBuffer(), {
    contentType: 'image/png',
  });
});

afterAll(async () => {
  await Promise.all(screenings.map((s) => s.release()));
  await rm(dir, { recursive: true, force: true });
});

function screening(env: Record<string, string>, policy: NsfwPolicy = 'block'): InputImageScreening {
  const config = parseConfig({
    LOG_LEVEL: 'silent',
    DATA_DIR: join(dir, 'data'),
    MODELS_DIR: join(dir, 'models'),
    ...env,
  });
  const s = new InputImageScreening({
    config,
    logger: createLogger('silent'),
    registry: { models: [] },
    artifacts,
    quotas: { get: async () => ({ nsfw: policy }) as never },
  });
  screenings.push(s);
  return s;
}

function input(): AdmissionInput {
  return {
    requestId: 'r1',
    member: { scope: { kind: 'cli', id: 'local' }, userId: 'me' },
    origin: { platform: 'cli' },
    request: tinyRequest({ mode: 'img2img', initImage: { artifactId: drawingId } }),
  };
}

describe('screening input images before admission', () => {
  it('lets a drawing through at the default thresholds', async () => {
    await expect(screening({}).check(input())).resolves.toBeUndefined();
  });

  it('refuses it, naming the field, when a threshold says every picture is NSFW', async () => {
    await expect(screening({ NSFW_PORN_THRESHOLD: '0' }).check(input())).rejects.toMatchObject({
      identifier: 'invalid-request',
      context: { fields: [{ field: 'initImage' }] },
    });
  });

  it('does not screen under a policy other than block, nor with NSFW_SCREENING=off', async () => {
    await expect(screening({ NSFW_PORN_THRESHOLD: '0' }, 'spoiler').check(input())).resolves.toBeUndefined();
    await expect(
      screening({ NSFW_PORN_THRESHOLD: '0', NSFW_SCREENING: 'off' }).check(input()),
    ).resolves.toBeUndefined();
  });
});
