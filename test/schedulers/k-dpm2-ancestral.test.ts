import { describe, expect, it } from 'vitest';
import { KDpm2AncestralDiscreteScheduler } from '../../src/engine/schedulers/k-dpm2-ancestral-discrete-scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import { absStats, dummyNoiseDeter, dummySampleDeter, scaleTensor } from './support/diffusers-fixtures.ts';
import { expectNear, scaledInputLoop } from './support/reference-loop.ts';
import { TorchCpuGenerator } from './support/torch-cpu-randn.ts';

// diffusers tests/schedulers/test_scheduler_kdpm2_ancestral.py; its loops draw noise from
// `torch.manual_seed(0)`, which TorchCpuGenerator reproduces.
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function torchNoise(seed = 0) {
  const generator = new TorchCpuGenerator(seed);
  return { noise: () => generator.randn(4 * 3 * 8 * 8) };
}

function fullLoop(config: SchedulerConfig = {}, seed = 0) {
  const scheduler = new KDpm2AncestralDiscreteScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  const start = scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma);
  return scaledInputLoop(scheduler, start, scheduler.timesteps, torchNoise(seed));
}

describe('KDPM2 ancestral against diffusers test_scheduler_kdpm2_ancestral.py', () => {
  it('test_full_loop_no_noise / test_full_loop_device: sum 13979.9433, mean 18.2030', () => {
    const { sum, mean } = absStats(fullLoop());
    expectNear(sum, 13979.9433, 1e-2);
    expectNear(mean, 18.203, 1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 331.8133, mean 0.4320', () => {
    const { sum, mean } = absStats(fullLoop({ prediction_type: 'v_prediction' }));
    expectNear(sum, 331.8133, 1e-2);
    expectNear(mean, 0.432, 1e-3);
  });

  it('test_full_loop_with_noise: add_noise at the 9th of 10 steps, sum 93087.3437, mean 121.2074', () => {
    const scheduler = new KDpm2AncestralDiscreteScheduler(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    const start = scheduler.addNoise(
      scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma),
      dummyNoiseDeter(),
      timesteps[0] as number,
    );
    const { sum, mean } = absStats(scaledInputLoop(scheduler, start, timesteps, torchNoise()));
    expectNear(sum, 93087.3437, 1e-2);
    expectNear(mean, 121.2074, 5e-3);
  });

  it('takes noise only from the caller: the same seed gives the same sample, another seed another', () => {
    expect(fullLoop({}, 3).data).toEqual(fullLoop({}, 3).data);
    expect(fullLoop({}, 3).data).not.toEqual(fullLoop({}, 4).data);
  });

  it('draws noise once per model pair (at each second half): 9 draws for 10 steps', () => {
    const scheduler = new KDpm2AncestralDiscreteScheduler(BASE);
    scheduler.setTimesteps(10);
    let draws = 0;
    const generator = new TorchCpuGenerator(0);
    scaledInputLoop(scheduler, dummySampleDeter(), scheduler.timesteps, {
      noise: () => {
        draws += 1;
        return generator.randn(768);
      },
    });
    expect(draws).toBe(9);
  });

  it('refuses a second half without a noise source, naming the option', () => {
    const scheduler = new KDpm2AncestralDiscreteScheduler(BASE);
    scheduler.setTimesteps(10);
    const sample = dummySampleDeter();
    const [t0, t1] = scheduler.timesteps as [number, number];
    scheduler.step(sample, t0, sample);
    expect(() => scheduler.step(sample, t1, sample)).toThrow(/options\.noise/);
  });
});
