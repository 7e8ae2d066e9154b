import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DenoiseRequest, denoise } from '../../src/engine/denoise.ts';
import type { DiffusionModel } from '../../src/engine/diffusion-model.ts';
import { createScheduler, type Scheduler } from '../../src/engine/schedulers/index.ts';
import { encodeText } from '../../src/engine/text-conditioning.ts';
import type { TinyFamily } from '../../src/engine/tiny/tiny-families.ts';
import type { SamplerName } from '../../src/request/types.ts';
import { familyEntry, familyWorld } from '../support/tiny-families.ts';
import type { TinyWorld } from '../support/tiny-models.ts';

/**
 * The denoising loop lends each lane's last latents back to the scheduler for the next ones
 * (StepOptions.into), so a step of Euler, Euler a or flow-matching Euler allocates nothing. Lending
 * must not change a value: each case renders with the lending scheduler and with the same scheduler
 * behind a wrapper that never sees `into`, and the latents must agree bit for bit.
 */
let world: TinyWorld;

beforeAll(async () => {
  world = await familyWorld();
});

afterAll(async () => {
  await world.store.release();
  await rm(world.modelsDir, { recursive: true, force: true });
});

/** The scheduler, with every step's `into` removed; counts the steps that wrote into a lent buffer. */
function withoutLending(scheduler: Scheduler): Scheduler {
  return new Proxy(scheduler, {
    get(target, property) {
      if (property === 'step') {
        return (...[output, t, sample, options]: Parameters<Scheduler['step']>) =>
          target.step(output, t, sample, { ...options, into: undefined });
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function counting(scheduler: Scheduler, lent: { steps: number }): Scheduler {
  const step = scheduler.step.bind(scheduler);
  scheduler.step = (output, t, sample, options) => {
    const result = step(output, t, sample, options);
    if (options?.into !== undefined && result.prevSample.data === options.into) lent.steps++;
    return result;
  };
  return scheduler;
}

interface Case {
  family: TinyFamily;
  sampler: SamplerName;
  guidance: number;
  seeds: number[];
  mode: 'txt2img' | 'img2img' | 'inpaint';
}

const CASES: Case[] = [
  { family: 'sd3', sampler: 'flow_euler', guidance: 4, seeds: [42, 43], mode: 'txt2img' },
  { family: 'sd3', sampler: 'flow_euler', guidance: 1, seeds: [7], mode: 'img2img' },
  { family: 'sdxl', sampler: 'euler', guidance: 5, seeds: [42], mode: 'txt2img' },
  { family: 'sdxl', sampler: 'euler', guidance: 5, seeds: [42, 43], mode: 'img2img' },
  { family: 'sdxl', sampler: 'euler_a', guidance: 5, seeds: [42], mode: 'inpaint' },
  { family: 'sdxl-turbo', sampler: 'euler_a', guidance: 0, seeds: [3, 4], mode: 'txt2img' },
];

async function render(model: DiffusionModel, c: Case, scheduler: Scheduler): Promise<Float32Array> {
  const h = 8;
  const w = 8;
  const perImage = model.latentChannels * h * w;
  const initLatents = Float32Array.from({ length: perImage }, (_, i) => Math.sin(i) * 0.8);
  const mask = Float32Array.from({ length: h * w }, (_, i) => (i % w >= 4 ? 1 : 0));
  const request: DenoiseRequest = {
    model,
    scheduler,
    steps: 6,
    strength: c.mode === 'txt2img' ? 1 : 0.7,
    guidance: c.guidance,
    seeds: c.seeds,
    latentHeight: h,
    latentWidth: w,
    text: await encodeText(model, 'a red circle', 'blurry', { width: 64, height: 64 }),
    ...(c.mode === 'txt2img' ? {} : { initLatents }),
    ...(c.mode === 'inpaint' ? { inpaint: { mask } } : {}),
  };
  return (await denoise(request)).data;
}

describe('lending the last latents to the scheduler', () => {
  for (const c of CASES) {
    it(`${c.family} ${c.sampler} ${c.mode}, guidance ${c.guidance}, ${c.seeds.length} image(s): the same latents`, async () => {
      const { model } = await world.store.diffusionModel(familyEntry(c.family), c.mode === 'inpaint');
      const lent = { steps: 0 };
      const lending = await render(
        model,
        c,
        counting(createScheduler(c.sampler, model.schedulerConfig), lent),
      );
      const plain = await render(model, c, withoutLending(createScheduler(c.sampler, model.schedulerConfig)));
      expect(lent.steps).toBeGreaterThan(0);
      expect(Buffer.from(lending.buffer, lending.byteOffset, lending.byteLength)).toEqual(
        Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength),
      );
      expect(lending.some((v) => v !== 0)).toBe(true);
    });
  }
});
