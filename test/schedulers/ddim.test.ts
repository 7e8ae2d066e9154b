import { describe, expect, it } from 'vitest';
import { DdimScheduler } from '../../src/engine/schedulers/ddim-scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import type { Tensor } from '../../src/engine/schedulers/tensor.ts';
import { absStats, dummyModel, dummyNoiseDeter, dummySampleDeter } from './support/diffusers-fixtures.ts';
import { TorchCpuGenerator } from './support/torch-cpu-randn.ts';

// diffusers tests/schedulers/test_scheduler_ddim.py, `get_scheduler_config`.
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  clip_sample: true,
};

function fullLoop(config: SchedulerConfig): Tensor {
  const scheduler = new DdimScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  let sample = dummySampleDeter();
  for (const t of scheduler.timesteps)
    sample = scheduler.step(dummyModel(sample, t), t, sample, { eta: 0 }).prevSample;
  return sample;
}

describe('DDIM against diffusers test_scheduler_ddim.py', () => {
  it('test_full_loop_no_noise: sum 172.0067, mean 0.223967', () => {
    const { sum, mean } = absStats(fullLoop({}));
    expect(Math.abs(sum - 172.0067)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.223967)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 52.5302, mean 0.0684', () => {
    const { sum, mean } = absStats(fullLoop({ prediction_type: 'v_prediction' }));
    expect(Math.abs(sum - 52.5302)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.0684)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_set_alpha_to_one: sum 149.8295, mean 0.1951', () => {
    const { sum, mean } = absStats(fullLoop({ set_alpha_to_one: true, beta_start: 0.01 }));
    expect(Math.abs(sum - 149.8295)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.1951)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_no_set_alpha_to_one: sum 149.0784, mean 0.1941', () => {
    const { sum, mean } = absStats(fullLoop({ set_alpha_to_one: false, beta_start: 0.01 }));
    expect(Math.abs(sum - 149.0784)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.1941)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_noise: add_noise at the 9th of 10 timesteps, sum 354.5418, mean 0.4616', () => {
    const scheduler = new DdimScheduler(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    let sample = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0] as number);
    for (const t of timesteps) sample = scheduler.step(dummyModel(sample, t), t, sample).prevSample;
    const { sum, mean } = absStats(sample);
    expect(Math.abs(sum - 354.5418)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.4616)).toBeLessThan(1e-3);
  });

  it('test_steps_offset: steps_offset=1 with 5 steps gives [801, 601, 401, 201, 1]', () => {
    const scheduler = new DdimScheduler({ ...BASE, steps_offset: 1 });
    scheduler.setTimesteps(5);
    expect(scheduler.timesteps).toEqual([801, 601, 401, 201, 1]);
  });

  it('test_variance: _get_variance values', () => {
    const scheduler = new DdimScheduler(BASE);
    expect(scheduler.variance(0, 0)).toBeCloseTo(0, 5);
    expect(Math.abs(scheduler.variance(420, 400) - 0.14771)).toBeLessThan(1e-5);
    expect(Math.abs(scheduler.variance(980, 960) - 0.3246)).toBeLessThan(1e-5);
    expect(Math.abs(scheduler.variance(487, 486) - 0.00979)).toBeLessThan(1e-5);
    expect(Math.abs(scheduler.variance(999, 998) - 0.02)).toBeLessThan(1e-5);
  });

  it('with eta > 0 adds the caller-supplied seeded noise (same seed, same result) and asks for it when missing', () => {
    const run = (seed: number) => {
      const scheduler = new DdimScheduler(BASE);
      scheduler.setTimesteps(10);
      const generator = new TorchCpuGenerator(seed);
      let sample = dummySampleDeter();
      for (const t of scheduler.timesteps) {
        sample = scheduler.step(dummyModel(sample, t), t, sample, {
          eta: 1,
          noise: () => generator.randn(768),
        }).prevSample;
      }
      return sample;
    };
    expect(run(1).data).toEqual(run(1).data);
    expect(run(1).data).not.toEqual(run(2).data);
    expect(run(1).data).not.toEqual(fullLoop({}).data);
    const scheduler = new DdimScheduler(BASE);
    scheduler.setTimesteps(10);
    const x = dummySampleDeter();
    expect(() => scheduler.step(x, 901, x, { eta: 0.5 })).toThrow(/options\.noise/);
  });
});
