import { describe, expect, it } from 'vitest';
import { LcmScheduler } from '../../src/engine/schedulers/lcm-scheduler.ts';
import { absStats, dummySampleDeter } from './support/diffusers-fixtures.ts';
import { expectNear, plainLoop } from './support/reference-loop.ts';
import { TorchCpuGenerator } from './support/torch-cpu-randn.ts';

// diffusers tests/schedulers/test_scheduler_lcm.py; its loop draws noise from torch.manual_seed(0).
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
};

function fullLoop(steps: number, seed = 0) {
  const scheduler = new LcmScheduler(BASE);
  scheduler.setTimesteps(steps);
  const generator = new TorchCpuGenerator(seed);
  return plainLoop(scheduler, dummySampleDeter(), scheduler.timesteps, { noise: () => generator.randn(768) });
}

describe('LCM against diffusers test_scheduler_lcm.py', () => {
  it('test_full_loop_onestep: sum 18.7097, mean 0.0244', () => {
    const { sum, mean } = absStats(fullLoop(1));
    expectNear(sum, 18.7097, 1e-3);
    expectNear(mean, 0.0244, 1e-3);
  });

  it('test_full_loop_multistep: sum 197.7616, mean 0.2575', () => {
    const { sum, mean } = absStats(fullLoop(10));
    expectNear(sum, 197.7616, 1e-3);
    expectNear(mean, 0.2575, 1e-3);
  });

  it('takes 10 timesteps evenly from the 50-step distillation schedule', () => {
    const scheduler = new LcmScheduler(BASE);
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    scheduler.setTimesteps(4);
    expect(scheduler.timesteps).toEqual([999, 759, 499, 259]);
  });

  it('gives identical samples for the same noise seed', () => {
    expect(fullLoop(4, 3).data).toEqual(fullLoop(4, 3).data);
    expect(fullLoop(4, 3).data).not.toEqual(fullLoop(4, 4).data);
  });

  it('needs no noise for a single step, and asks for it on earlier steps', () => {
    const scheduler = new LcmScheduler(BASE);
    scheduler.setTimesteps(2);
    const sample = dummySampleDeter();
    expect(() => scheduler.step(sample, scheduler.timesteps[0] as number, sample)).toThrow(/options\.noise/);
    scheduler.setTimesteps(1);
    expect(() => scheduler.step(sample, 999, sample)).not.toThrow();
  });

  it('refuses more steps than original_inference_steps', () => {
    const scheduler = new LcmScheduler(BASE);
    expect(() => scheduler.setTimesteps(51)).toThrow(/original_inference_steps \(50\)/);
  });
});
