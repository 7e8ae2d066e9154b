import { describe, expect, it } from 'vitest';
import { HeunDiscreteScheduler } from '../../src/engine/schedulers/heun-discrete-scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import { absStats, dummyNoiseDeter, dummySampleDeter, scaleTensor } from './support/diffusers-fixtures.ts';
import { expectNear, scaledInputLoop } from './support/reference-loop.ts';

// diffusers tests/schedulers/test_scheduler_heun.py, `get_scheduler_config`; 10 inference steps.
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoop(config: SchedulerConfig = {}) {
  const scheduler = new HeunDiscreteScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  const start = scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma);
  return absStats(scaledInputLoop(scheduler, start, scheduler.timesteps));
}

describe('Heun against diffusers test_scheduler_heun.py', () => {
  it('test_full_loop_no_noise / test_full_loop_device: sum 0.1233, mean 0.0002', () => {
    const { sum, mean } = fullLoop();
    expectNear(sum, 0.1233, 1e-2);
    expectNear(mean, 0.0002, 1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 4.6934e-07, mean 6.1112e-10', () => {
    const { sum, mean } = fullLoop({ prediction_type: 'v_prediction' });
    expectNear(sum, 4.6934e-7, 1e-2);
    expectNear(mean, 6.1112e-10, 1e-3);
  });

  it('test_full_loop_device_karras_sigmas: sum 0.00015, mean 1.9869554535034695e-07', () => {
    const { sum, mean } = fullLoop({ use_karras_sigmas: true });
    expectNear(sum, 0.00015, 1e-2);
    expectNear(mean, 1.9869554535034695e-7, 1e-2);
  });

  it('test_full_loop_with_noise: add_noise at the 9th of 10 steps, sum 75074.8906, mean 97.7538', () => {
    const scheduler = new HeunDiscreteScheduler(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    const start = scheduler.addNoise(
      scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma),
      dummyNoiseDeter(),
      timesteps[0] as number,
    );
    const { sum, mean } = absStats(scaledInputLoop(scheduler, start, timesteps));
    expectNear(sum, 75074.8906, 1e-2);
    expectNear(mean, 97.7538, 1e-3);
  });

  it('keeps diffusers’ doubled schedule: 2n - 1 timesteps, 2n sigmas ending in 0', () => {
    const scheduler = new HeunDiscreteScheduler(BASE);
    scheduler.setTimesteps(4);
    expect(scheduler.timesteps).toEqual(
      [1099, 732.666687, 732.666687, 366.333344, 366.333344, 0, 0].map(Math.fround),
    );
    expect(scheduler.sigmas).toHaveLength(8);
    expect(scheduler.sigmas[1]).toBe(scheduler.sigmas[2]);
    expect(scheduler.sigmas[7]).toBe(0);
  });
});
