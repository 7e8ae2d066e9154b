import { describe, expect, it } from 'vitest';
import { LmsDiscreteScheduler } from '../../src/engine/schedulers/lms-discrete-scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import { absStats, dummyNoiseDeter, dummySampleDeter, scaleTensor } from './support/diffusers-fixtures.ts';
import { expectNear, scaledInputLoop } from './support/reference-loop.ts';

// diffusers tests/schedulers/test_scheduler_lms.py, `get_scheduler_config`; 10 inference steps.
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoop(config: SchedulerConfig = {}) {
  const scheduler = new LmsDiscreteScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  const start = scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma);
  return absStats(scaledInputLoop(scheduler, start, scheduler.timesteps));
}

describe('LMS against diffusers test_scheduler_lms.py', () => {
  it('test_full_loop_no_noise / test_full_loop_device: sum 1006.388, mean 1.31', () => {
    const { sum, mean } = fullLoop();
    expectNear(sum, 1006.388, 1e-2);
    expectNear(mean, 1.31, 1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 0.0017, mean 2.2676e-06', () => {
    const { sum, mean } = fullLoop({ prediction_type: 'v_prediction' });
    expectNear(sum, 0.0017, 1e-2);
    expectNear(mean, 2.2676e-6, 1e-3);
  });

  it('test_full_loop_device_karras_sigmas: sum 3812.9927, mean 4.9648', () => {
    const { sum, mean } = fullLoop({ use_karras_sigmas: true });
    expectNear(sum, 3812.9927, 2e-2);
    expectNear(mean, 4.9648, 1e-3);
  });

  it('test_full_loop_with_noise: add_noise at the 9th of 10 steps, sum 27663.6895, mean 36.0204', () => {
    const scheduler = new LmsDiscreteScheduler(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    const start = scheduler.addNoise(
      scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma),
      dummyNoiseDeter(),
      timesteps[0] as number,
    );
    const { sum, mean } = absStats(scaledInputLoop(scheduler, start, timesteps));
    expectNear(sum, 27663.6895, 1e-2);
    expectNear(mean, 36.0204, 1e-3);
  });

  it('the first step, with one derivative, is exactly an Euler step', () => {
    const scheduler = new LmsDiscreteScheduler(BASE);
    scheduler.setTimesteps(10);
    const sample = dummySampleDeter();
    const eps = dummyNoiseDeter();
    const t = scheduler.timesteps[0] as number;
    const out = scheduler.step(eps, t, sample).prevSample;
    const dt = (scheduler.sigmas[1] as number) - (scheduler.sigmas[0] as number);
    for (let k = 0; k < 5; k++) {
      expect(out.data[k]).toBeCloseTo((sample.data[k] as number) + (eps.data[k] as number) * dt, 4);
    }
  });
});
