import { describe, expect, it } from 'vitest';
import { KDpm2DiscreteScheduler } from '../../src/engine/schedulers/k-dpm2-discrete-scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import { absStats, dummyNoiseDeter, dummySampleDeter, scaleTensor } from './support/diffusers-fixtures.ts';
import { expectNear, scaledInputLoop } from './support/reference-loop.ts';

// diffusers tests/schedulers/test_scheduler_kdpm2_discrete.py, `get_scheduler_config`; 10 steps.
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoop(config: SchedulerConfig = {}) {
  const scheduler = new KDpm2DiscreteScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  const start = scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma);
  return absStats(scaledInputLoop(scheduler, start, scheduler.timesteps));
}

describe('KDPM2 against diffusers test_scheduler_kdpm2_discrete.py', () => {
  it('test_full_loop_no_noise / test_full_loop_device: sum 20.4125, mean 0.0266', () => {
    const { sum, mean } = fullLoop();
    expectNear(sum, 20.4125, 1e-2);
    expectNear(mean, 0.0266, 1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 4.6934e-07, mean 6.1112e-10', () => {
    const { sum, mean } = fullLoop({ prediction_type: 'v_prediction' });
    expectNear(sum, 4.6934e-7, 1e-2);
    expectNear(mean, 6.1112e-10, 1e-3);
  });

  it('test_full_loop_with_noise: add_noise at the 9th of 10 steps, sum 70408.4062, mean 91.6776', () => {
    const scheduler = new KDpm2DiscreteScheduler(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    const start = scheduler.addNoise(
      scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma),
      dummyNoiseDeter(),
      timesteps[0] as number,
    );
    const { sum, mean } = absStats(scaledInputLoop(scheduler, start, timesteps));
    expectNear(sum, 70408.4062, 1e-2);
    expectNear(mean, 91.6776, 1e-3);
  });

  it('interleaves the log-midpoint timesteps: t0, t(1/2), t1, t(3/2), t2 ...', () => {
    const scheduler = new KDpm2DiscreteScheduler(BASE);
    scheduler.setTimesteps(3);
    const ts = scheduler.timesteps;
    expect(ts).toHaveLength(5);
    expect([ts[0], ts[2], ts[4]]).toEqual([1099, 549.5, 0]);
    expect(ts[1]).toBeLessThan(1099);
    expect(ts[1]).toBeGreaterThan(549.5);
    expect(scheduler.sigmasInterpol[1]).toBeCloseTo(
      Math.sqrt((scheduler.sigmas[0] as number) * (scheduler.sigmas[1] as number)),
      4,
    );
  });

  it('refuses prediction_type "sample", which diffusers’ KDPM2 does not implement', () => {
    expect(() => new KDpm2DiscreteScheduler({ prediction_type: 'sample' })).toThrow(/"prediction_type"/);
  });
});
