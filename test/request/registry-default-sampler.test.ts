import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry, PACKAGE_MODELS_DIR } from '../../src/models/registry.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import { isFlowMatchingSampler } from '../../src/request/sampler-names.ts';
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

function registryWithDefault(scheduler: string, model = 'sd-1.5'): string {
  const file = join(dir, `${model}-${scheduler}-default.json`);
  const models = registryJson.models.map((m) =>
    m.id === model ? { ...m, defaults: { ...m.defaults, scheduler } } : m,
  );
  writeFileSync(file, JSON.stringify({ models }));
  return file;
}

describe('the model registry’s default sampler', () => {
  it.each(SAMPLERS)('may be %s: a request that names no sampler gets it', async (sampler) => {
    // flow_euler is the SD3 family's sampler and only theirs.
    const model = isFlowMatchingSampler(sampler) ? 'sd3-medium' : 'sd-1.5';
    const registry = loadRegistry(registryWithDefault(sampler, model));
    const result = validateRequest(parsePromptFlags('a lighthouse'), {
      registry,
      defaultModel: model,
      randomSeed: () => 1,
    });
    expect(result.ok && result.request.sampler).toBe(sampler);
  });

  it('is refused at load when it does not fit the family: flow_euler on SD 1.5, euler on SD3', async () => {
    expect(() => loadRegistry(registryWithDefault('flow_euler', 'sd-1.5'))).toThrow(
      /model "sd-1\.5" \(family sd1\) defaults\.scheduler "flow_euler": flow_euler samples only SD3 models/,
    );
    expect(() => loadRegistry(registryWithDefault('euler', 'sd3-medium'))).toThrow(
      /model "sd3-medium" \(family sd3\) defaults\.scheduler "euler": SD3 models sample with flow_euler/,
    );
  });

  it('is refused at load, naming the model, when easel has no such sampler', async () => {
    const file = registryWithDefault('dpm_fast');
    expect(() => loadRegistry(file)).toThrow(
      /model "sd-1\.5" defaults\.scheduler "dpm_fast" is not one of euler/,
    );
  });
});
