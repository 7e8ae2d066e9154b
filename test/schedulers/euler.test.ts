import { describe, expect, it } from 'vitest';
import { EulerDiscreteScheduler } from '../../src/engine/schedulers/euler-discrete-scheduler.ts';
import { scaleModelInput } from '../../src/engine/schedulers/scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import type { Tensor } from '../../src/engine/schedulers/tensor.ts';
import { absStats, dummyModel, dummySampleDeter, scaleTensor } from './support/diffusers-fixtures.ts';

// diffusers tests/schedulers/test_scheduler_euler.py, `get_scheduler_config`.
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoop(config: SchedulerConfig): Tensor {
  const scheduler = new EulerDiscreteScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  let sample = scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma);
  for (const t of scheduler.timesteps) {
    const input = scaleModelInput(scheduler, sample, t);
    // The test feeds the scaled sample to the model *and* to step, as diffusers' test does.
    sample = scheduler.step(dummyModel(input, t), t, input).prevSample;
  }
  return sample;
}

describe('Euler against diffusers test_scheduler_euler.py', () => {
  it('test_full_loop_no_noise: sum 10.0807, mean 0.0131', () => {
    const { sum, mean } = absStats(fullLoop({}));
    expect(Math.abs(sum - 10.0807)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.0131)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 0.0002, mean 2.2676e-06', () => {
    const { sum, mean } = absStats(fullLoop({ prediction_type: 'v_prediction' }));
    expect(Math.abs(sum - 0.0002)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 2.2676e-6)).toBeLessThan(1e-3);
  });

  it('test_full_loop_device_karras_sigmas: sum 124.52299499511719, mean 0.16213932633399963', () => {
    const { sum, mean } = absStats(fullLoop({ use_karras_sigmas: true }));
    expect(Math.abs(sum - 124.52299499511719)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.16213932633399963)).toBeLessThan(1e-3);
  });
});
