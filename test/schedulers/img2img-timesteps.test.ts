import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  EulerDiscreteScheduler,
  timestepsForStrength,
} from '../../src/engine/schedulers/index.ts';
import { cleanAndNoise } from './support/oracle.ts';

const SD = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1 };

describe('timestepsForStrength (diffusers img2img get_timesteps)', () => {
  it('keeps the last floor(steps * strength) timesteps and starts at the first of them', () => {
    const ddim = createScheduler('ddim', SD);
    const { timesteps, startTimestep, numInferenceSteps } = timestepsForStrength(ddim, 10, 0.3);
    expect(timesteps).toEqual([201, 101, 1]);
    expect(startTimestep).toBe(201);
    expect(numInferenceSteps).toBe(3);
  });

  it('runs every step at strength 1 and uses float products as Python does (0.7 * 10 -> 7)', () => {
    const euler = createScheduler('euler', SD);
    expect(timestepsForStrength(euler, 25, 1).numInferenceSteps).toBe(25);
    expect(timestepsForStrength(euler, 10, 0.7).numInferenceSteps).toBe(7);
  });

  it('sets the begin index so Euler noises and steps with the sigma of the first kept timestep', () => {
    const euler = new EulerDiscreteScheduler(SD);
    const { timesteps, startTimestep } = timestepsForStrength(euler, 10, 0.5);
    const { x0, noise } = cleanAndNoise();
    const noised = euler.addNoise(x0, noise, startTimestep);
    // x0 + sigma * noise with sigma = sigmas[5] of 10 linspace steps (timestep 444), not sigma_max
    const sigma = ((noised.data[0] as number) - (x0.data[0] as number)) / (noise.data[0] as number);
    expect(timesteps[0]).toBeCloseTo(444, 0);
    expect(sigma).toBeCloseTo(euler.sigmas[5] as number, 4);
    expect(sigma).toBeLessThan((euler.sigmas[0] as number) / 5);
    const step = euler.step(noise, timesteps[0] as number, noised);
    expect(step.prevSample.data.every(Number.isFinite)).toBe(true);
  });

  it('asks LCM for a schedule inside the lower part of its distillation steps', () => {
    const lcm = createScheduler('lcm', {});
    const { timesteps, startTimestep } = timestepsForStrength(lcm, 4, 0.5);
    expect(timesteps).toHaveLength(4);
    expect(startTimestep).toBe(499);
  });

  it('refuses a strength that leaves no step, and one outside 0..1', () => {
    const ddim = createScheduler('ddim', SD);
    expect(() => timestepsForStrength(ddim, 10, 0.05)).toThrow(/leaves no denoising step/);
    expect(() => timestepsForStrength(ddim, 10, 1.5)).toThrow(/strength must be in 0\.\.1, got 1\.5/);
  });
});
