import { describe, expect, it } from 'vitest';
import { PndmScheduler } from '../../src/engine/schedulers/pndm-scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import { absStats, dummySampleDeter } from './support/diffusers-fixtures.ts';
import { expectNear, plainLoop } from './support/reference-loop.ts';

// diffusers tests/schedulers/test_scheduler_pndm.py. Its full_loop runs step_prk over prk_timesteps and
// then step_plms over plms_timesteps, which is what `step` over `timesteps` does.
const BASE = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoop(config: SchedulerConfig = {}) {
  const scheduler = new PndmScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  return absStats(plainLoop(scheduler, dummySampleDeter(), scheduler.timesteps));
}

describe('PNDM against diffusers test_scheduler_pndm.py', () => {
  it('test_full_loop_no_noise: sum 198.1318, mean 0.2580', () => {
    const { sum, mean } = fullLoop();
    expectNear(sum, 198.1318, 1e-2);
    expectNear(mean, 0.258, 1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 67.3986, mean 0.0878', () => {
    const { sum, mean } = fullLoop({ prediction_type: 'v_prediction' });
    expectNear(sum, 67.3986, 1e-2);
    expectNear(mean, 0.0878, 1e-3);
  });

  it('test_full_loop_with_set_alpha_to_one: sum 230.0399, mean 0.2995', () => {
    const { sum, mean } = fullLoop({ set_alpha_to_one: true, beta_start: 0.01 });
    expectNear(sum, 230.0399, 1e-2);
    expectNear(mean, 0.2995, 1e-3);
  });

  it('test_full_loop_with_no_set_alpha_to_one: sum 186.9482, mean 0.2434', () => {
    const { sum, mean } = fullLoop({ set_alpha_to_one: false, beta_start: 0.01 });
    expectNear(sum, 186.9482, 1e-2);
    expectNear(mean, 0.2434, 1e-3);
  });

  it('test_steps_offset: Runge-Kutta warm-up then PLMS timesteps for 10 steps, offset 1', () => {
    const scheduler = new PndmScheduler({ ...BASE, steps_offset: 1 });
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([
      901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1,
    ]);
  });

  it('with skip_prk_steps (Stable Diffusion) repeats the second timestep once: 11 entries for 10 steps', () => {
    const scheduler = new PndmScheduler({ ...BASE, skip_prk_steps: true, steps_offset: 1 });
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  });

  it('test_pndm_low_inference_steps_prk_validation: fewer than 4 steps need skip_prk_steps', () => {
    const withPrk = new PndmScheduler({ ...BASE, skip_prk_steps: false });
    for (const n of [1, 2, 3]) expect(() => withPrk.setTimesteps(n)).toThrow(/must be >= 4/);
    expect(() => withPrk.setTimesteps(4)).not.toThrow();
    const skipping = new PndmScheduler({ ...BASE, skip_prk_steps: true });
    for (const n of [1, 2, 3, 4]) expect(() => skipping.setTimesteps(n)).not.toThrow();
  });

  it('test_pow_of_3_inference_steps: 27 steps start without error', () => {
    const scheduler = new PndmScheduler(BASE);
    scheduler.setTimesteps(27);
    const sample = dummySampleDeter();
    const residual = { data: sample.data.map((v) => 0.1 * v), dims: sample.dims };
    let x = sample;
    for (const t of scheduler.timesteps.slice(0, 2)) x = scheduler.step(residual, t, x).prevSample;
    expect(x.data.every(Number.isFinite)).toBe(true);
  });
});
