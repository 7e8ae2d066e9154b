import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../src/engine/schedulers/index.ts';
import { readNoiseSchedule } from '../../src/engine/schedulers/noise-schedule.ts';

const DEFAULTS = { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' } as const;

describe('training noise schedules', () => {
  it('linear betas run from beta_start to beta_end in float32', () => {
    const { betas } = readNoiseSchedule({ beta_start: 0.0001, beta_end: 0.02 }, DEFAULTS);
    expect(betas[0]).toBe(Math.fround(0.0001));
    expect(betas[999]).toBe(Math.fround(0.02));
    expect(betas[500]).toBeCloseTo(0.0001 + (0.02 - 0.0001) * (500 / 999), 8);
  });

  it('scaled_linear betas are linear in sqrt(beta) (Stable Diffusion: 0.00085..0.012)', () => {
    const { betas } = readNoiseSchedule(
      { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 },
      DEFAULTS,
    );
    expect(betas[0]).toBeCloseTo(0.00085, 8);
    expect(betas[999]).toBeCloseTo(0.012, 8);
    const mid = (Math.sqrt(0.00085) + (Math.sqrt(0.012) - Math.sqrt(0.00085)) * (500 / 999)) ** 2;
    expect(betas[500]).toBeCloseTo(mid, 8);
  });

  it('alphas_cumprod is the running product of 1 - beta', () => {
    const { betas, alphasCumprod } = readNoiseSchedule({}, DEFAULTS);
    let product = 1;
    for (let i = 0; i <= 10; i++) product *= 1 - (betas[i] as number);
    expect(alphasCumprod[10]).toBeCloseTo(product, 6);
    // Stable Diffusion's well-known final value for this linear schedule.
    expect(alphasCumprod[999]).toBeCloseTo(4.0358e-5, 8);
  });

  it('rescale_betas_zero_snr makes the last timestep pure noise and keeps the first', () => {
    const plain = readNoiseSchedule(
      { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 },
      DEFAULTS,
    );
    const rescaled = readNoiseSchedule(
      { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, rescale_betas_zero_snr: true },
      DEFAULTS,
    );
    expect(rescaled.alphasCumprod[999]).toBe(0);
    expect(rescaled.alphasCumprod[0]).toBeCloseTo(plain.alphasCumprod[0] as number, 6);
  });

  it('trained_betas are used as given', () => {
    const betas = Array.from({ length: 10 }, (_, i) => 0.01 * (i + 1));
    const schedule = readNoiseSchedule({ num_train_timesteps: 10, trained_betas: betas }, DEFAULTS);
    expect(Array.from(schedule.betas)).toEqual(betas.map(Math.fround));
  });

  it('reads a config once: schedulers of one model share its arrays, and zero-SNR ones change a copy', () => {
    const config = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 };
    const first = readNoiseSchedule({ ...config }, DEFAULTS);
    expect(readNoiseSchedule({ ...config }, DEFAULTS)).toBe(first);
    expect(readNoiseSchedule({ ...config, beta_end: 0.02 }, DEFAULTS)).not.toBe(first);
    const alphas = Array.from(first.alphasCumprod);
    // Zero-SNR Euler and DPM-Solver set their last alpha to 2^-24, on their own copy.
    for (const sampler of ['euler', 'dpmpp_2m']) {
      const rescaled = { ...config, rescale_betas_zero_snr: true };
      createScheduler(sampler, rescaled).setTimesteps(10);
      createScheduler(sampler, rescaled).setTimesteps(10);
      expect(readNoiseSchedule(rescaled, DEFAULTS).alphasCumprod.at(-1)).not.toBe(2 ** -24);
    }
    createScheduler('euler', config).setTimesteps(10);
    expect(Array.from(first.alphasCumprod)).toEqual(alphas);
  });
});
