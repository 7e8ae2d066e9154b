import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry, PACKAGE_MODELS_DIR } from '../../src/models/registry.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import { SAMPLERS } from '../../src/request/types.ts';
import { validateRequest } from '../../src/request/validate-request.ts';

let dir: string;
let registryJson: { models: Array<{ id: string; defaults: { scheduler: string } }> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easel-registry-'));
  registryJson = JSON.parse(await readFile(join(PACKAGE_MODELS_DIR, 'registry.json'), 'utf8'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function registryWithDefault(scheduler: string) {
  const file = join(dir, `${scheduler}.json`);
  const models = registryJson.models.map((m) =>
    m.id === 'sd-1.5' ? { ...m, defaults: { ...m.defaults, scheduler } } : m,
  );
  await writeFile(file, JSON.stringify({ models }));
  return file;
}

describe('the model registry’s default sampler', () => {
  it.each(SAMPLERS)('may be %s: a request that names no sampler gets it', async (sampler) => {
    const registry = loadRegistry(await registryWithDefault(sampler));
    const result = validateRequest(parsePromptFlags('a lighthouse'), {
      registry,
      defaultModel: 'sd-1.5',
      randomSeed: () => 1,
    });
    expect(result.ok && result.request.sampler).toBe(sampler);
  });

  it('is refused at load, naming the model, when easel has no such sampler', async () => {
    const file = await registryWithDefault('dpm_fast');
    expect(() => loadRegistry(file)).toThrow(
      /model "sd-1\.5" defaults\.scheduler "dpm_fast" is not one of euler/,
    );
  });
});
