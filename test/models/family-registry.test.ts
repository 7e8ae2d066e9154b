import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planDownload } from '../../src/models/download-plan.ts';
import { findModel, loadRegistry } from '../../src/models/registry.ts';
import { fromHostedApiBody } from '../../src/request/hosted-api-body.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import {
  type ValidationContext,
  type ValidationResult,
  validateRequest,
} from '../../src/request/validate-request.ts';

const registry = loadRegistry();
const ctx: ValidationContext = { registry, defaultModel: 'sd-1.5', randomSeed: () => 777 };

function validate(text: string): ValidationResult {
  return validateRequest(parsePromptFlags(text), ctx);
}

function accepted(result: ValidationResult) {
  if (!result.ok) throw new Error(`expected a valid request, got ${JSON.stringify(result.errors)}`);
  return result.request;
}

function messages(result: ValidationResult): string[] {
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.request)}`);
  return result.errors.map((e) => e.message);
}

describe('the registry: the seeds’ model families under the hosted APIs’ ids', () => {
  it.each([
    ['sd3-large', 'sd3.5-large', 'sd3'],
    ['sd3-large-turbo', 'sd3.5-large-turbo', 'sd3'],
    ['sd3-medium', 'sd3-medium', 'sd3'],
    ['sd3.5-medium', 'sd3.5-medium', 'sd3'],
    ['sdxl', 'sdxl', 'sdxl'],
    ['sdxl-turbo', 'sdxl-turbo', 'sdxl'],
    ['stable-diffusion-xl-1024-v1-0', 'sdxl', 'sdxl'],
    ['sdxl-refiner', 'sdxl-refiner', 'sdxl-refiner'],
    ['sd2.1', 'sd2.1', 'sd2'],
    ['sd2.1-base', 'sd2.1-base', 'sd2'],
    ['stable-diffusion-768-v2-1', 'sd2.1', 'sd2'],
  ])('%s is %s, family %s', (name, id, family) => {
    const entry = findModel(registry, name);
    expect(entry?.id).toBe(id);
    expect(entry?.family).toBe(family);
  });

  it('gives each family its native size, and aspect ratios keep that area', () => {
    const sizes = Object.fromEntries(
      ['sd2.1', 'sd2.1-base', 'sdxl', 'sdxl-turbo', 'sd3.5-large'].map((model) => {
        const r = accepted(validate(`a lighthouse --model ${model} --ar 16:9`));
        const square = accepted(validate(`a lighthouse --model ${model}`));
        return [model, [`${square.width}x${square.height}`, `${r.width}x${r.height}`]];
      }),
    );
    expect(sizes).toEqual({
      'sd2.1': ['768x768', '1024x576'],
      'sd2.1-base': ['512x512', '704x384'],
      sdxl: ['1024x1024', '1344x768'],
      // SDXL-Turbo was distilled at 512 px.
      'sdxl-turbo': ['512x512', '704x384'],
      'sd3.5-large': ['1024x1024', '1344x768'],
    });
  });

  it('turbo models default to guidance 0 and 1-4 steps; SD3 models sample with flow_euler', () => {
    for (const model of ['sdxl-turbo', 'sd3-large-turbo', 'sd-turbo']) {
      const r = accepted(validate(`a fox --model ${model}`));
      expect(r.guidance, model).toBe(0);
      expect(r.steps, model).toBeGreaterThanOrEqual(1);
      expect(r.steps, model).toBeLessThanOrEqual(4);
      expect(messages(validate(`a fox --model ${model} --steps 5`))[0]).toMatch(/from 1 to 4 for/);
    }
    for (const model of ['sd3-medium', 'sd3.5-medium', 'sd3-large', 'sd3-large-turbo']) {
      expect(accepted(validate(`a fox --model ${model}`)).sampler, model).toBe('flow_euler');
    }
    expect(accepted(validate('a fox --model sdxl'))).toMatchObject({
      steps: 30,
      guidance: 5,
      sampler: 'euler',
    });
  });

  it('every hub entry names its repo and every other non-built-in one how to export it', () => {
    for (const entry of registry.models) {
      if (entry.builtin === true || entry.install !== undefined) continue;
      expect(entry.hub !== undefined || entry.export !== undefined, entry.id).toBe(true);
    }
    expect(findModel(registry, 'sdxl')?.hub?.repo).toBe('stabilityai/stable-diffusion-xl-base-1.0');
    expect(findModel(registry, 'sdxl-turbo')?.hub?.repo).toBe('stabilityai/sdxl-turbo');
  });

  it('refuses a registry entry that says neither where to get it nor how to make it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'easel-registry-'));
    try {
      const file = join(dir, 'registry.json');
      const orphan = { ...findModel(registry, 'sd3-medium')!, id: 'orphan' } as Record<string, unknown>;
      delete orphan.export;
      await writeFile(file, JSON.stringify({ models: [orphan] }));
      expect(() => loadRegistry(file)).toThrow(/model "orphan" has none of builtin, hub, export or install/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the validator: what each family refuses, before anything is charged', () => {
  it('refuses a negative prompt on a model that renders without guidance, naming the model', () => {
    expect(messages(validate('a fox --model sd3-large-turbo --no blur'))).toEqual([
      '--no: negative prompts do not work with sd3.5-large-turbo: it renders without classifier-free guidance, so the negative prompt would be ignored; leave it out',
    ]);
    const hosted = validateRequest(
      fromHostedApiBody({ prompt: 'a fox', negative_prompt: 'blur', model: 'sdxl-turbo' }),
      ctx,
    );
    expect(messages(hosted)).toEqual([
      'negative_prompt: negative prompts do not work with sdxl-turbo: it renders without classifier-free guidance, so the negative prompt would be ignored; leave it out',
    ]);
    // The same negative prompt is fine on the non-turbo model of the family.
    expect(accepted(validate('a fox --model sd3-large --no blur')).negativePrompt).toBe('blur');
  });

  it('refuses a noise-prediction sampler on an SD3 model and flow_euler on the others', () => {
    expect(messages(validate('a fox --model sd3-medium --sampler "DPM++ 2M Karras"'))).toEqual([
      '--sampler: sd3-medium is a flow-matching model (Stable Diffusion 3) and samples only with flow_euler (got dpmpp_2m_karras)',
    ]);
    expect(messages(validate('a fox --model sdxl --sampler flow_euler'))).toEqual([
      '--sampler: flow_euler samples only flow-matching models (Stable Diffusion 3); sdxl takes any other sampler (its default is euler)',
    ]);
    expect(
      accepted(validate('a fox --model sd3-medium --sampler FlowMatchEulerDiscreteScheduler')).sampler,
    ).toBe('FlowMatchEulerDiscreteScheduler');
  });

  it('refuses text-to-image on the refiner, which only refines a picture', () => {
    expect(messages(validate('a fox --model sdxl-refiner'))).toEqual([
      '--model: sdxl-refiner refines an existing image: attach one (img2img), or render with sdxl first and refine that',
    ]);
  });
});

describe('easel models download: what a registry id fetches', () => {
  const settings = { modelsDir: '/srv/models', hubUrl: 'https://hub.example' };

  it('an SD3 model with no ONNX export on the hub is refused with the export command, before anything is written', () => {
    expect(() => planDownload(registry, { repoOrId: 'sd3-large-turbo' }, settings)).toThrow(
      'sd3.5-large-turbo: there is no ONNX export of sd3.5-large-turbo on the hub in the layout easel reads, so easel cannot download it. ' +
        'Export one on a machine with internet (pip install "optimum-onnx[onnxruntime]"): ' +
        'optimum-cli export onnx --model stabilityai/stable-diffusion-3.5-large-turbo --task text-to-image sd3.5-large-turbo ' +
        '(add --dtype fp16 --device cuda on a CUDA GPU for half the size), then copy the folder to /srv/models/sd3.5-large-turbo here.',
    );
  });

  it('a hub entry brings its repo, revision, subfolder and folder; a repo the registry does not know is taken as given', () => {
    expect(planDownload(registry, { repoOrId: 'refiner' }, settings)).toMatchObject({
      source: {
        repo: 'greentree/SDXL-olive-optimized',
        revision: 'main',
        subfolder: 'stable-diffusion-xl-refiner-1.0',
        hubUrl: 'https://hub.example',
      },
      dir: '/srv/models/sdxl-refiner',
    });
    expect(planDownload(registry, { repoOrId: 'stabilityai/sdxl-turbo' }, settings).folder).toBe(
      'sdxl-turbo',
    );
    const other = planDownload(registry, { repoOrId: 'someone/sd-onnx', subfolder: 'onnx' }, settings);
    expect(other).toMatchObject({
      source: { repo: 'someone/sd-onnx', subfolder: 'onnx' },
      dir: '/srv/models/sd-onnx',
    });
    expect(other.entry).toBeUndefined();
  });

  it('names built-in and locally made models, and refuses a name that is neither an id nor a repo', () => {
    expect(() => planDownload(registry, { repoOrId: 'easel-mini' }, settings)).toThrow(/ships with easel/);
    expect(() => planDownload(registry, { repoOrId: 'tiny' }, settings)).toThrow(
      /`easel models tiny` makes it/,
    );
    expect(() => planDownload(registry, { repoOrId: 'sd4' }, settings)).toThrow(
      /"sd4" is neither a model id easel knows \(.*sdxl.*\) nor a hub repo/,
    );
  });
});
