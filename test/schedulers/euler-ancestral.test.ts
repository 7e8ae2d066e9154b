import { describe, expect, it } from 'vitest';
import { EulerAncestralScheduler } from '../../src/engine/schedulers/euler-ancestral-scheduler.ts';
import { absStats, dummyNoiseDeter, dummySampleDeter, scaleTensor } from './support/diffusers-fixtures.ts';
import { expectNear, scaledInputLoop } from './support/reference-loop.ts';
import { TorchCpuGenerator } from './support/torch-cpu-randn.ts';

// diffusers tests/schedulers/test_scheduler_euler_ancestral.py. Its loops draw noise from
// `torch.manual_seed(0)`; TorchCpuGenerator reproduces torch's CPU randn so the values apply.
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function torchNoise(seed = 0) {
  const generator = new TorchCpuGenerator(seed);
  return { noise: () => generator.randn(4 * 3 * 8 * 8) };
}

function fullLoop(config = {}, seed = 0) {
  const scheduler = new EulerAncestralScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  const start = scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma);
  return scaledInputLoop(scheduler, start, scheduler.timesteps, torchNoise(seed));
}

describe('Euler ancestral against diffusers test_scheduler_euler_ancestral.py', () => {
  it('test_full_loop_no_noise: sum 152.3192, mean 0.1983', () => {
    const { sum, mean } = absStats(fullLoop());
    expectNear(sum, 152.3192, 1e-2);
    expectNear(mean, 0.1983, 1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 108.4439, mean 0.1412', () => {
    const { sum, mean } = absStats(fullLoop({ prediction_type: 'v_prediction' }));
    expectNear(sum, 108.4439, 1e-2);
    expectNear(mean, 0.1412, 1e-3);
  });

  it('test_full_loop_with_noise: add_noise at the 9th of 10 timesteps, sum 56163.0508, mean 73.1290', () => {
    const scheduler = new EulerAncestralScheduler(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    const start = scheduler.addNoise(
      scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma),
      dummyNoiseDeter(),
      timesteps[0] as number,
    );
    const { sum, mean } = absStats(scaledInputLoop(scheduler, start, timesteps, torchNoise()));
    expectNear(sum, 56163.0508, 1e-2);
    expectNear(mean, 73.129, 1e-3);
  });

  it('gives identical samples for the same noise seed and different ones for another seed', () => {
    expect(fullLoop({}, 7).data).toEqual(fullLoop({}, 7).data);
    expect(fullLoop({}, 7).data).not.toEqual(fullLoop({}, 8).data);
  });

  it('refuses to step without a noise source, naming the option', () => {
    const scheduler = new EulerAncestralScheduler(BASE);
    scheduler.setTimesteps(10);
    const sample = dummySampleDeter();
    const t = scheduler.timesteps[0] as number;
    expect(() => scheduler.step(sample, t, sample)).toThrow(/options\.noise/);
  });

  it('refuses noise of the wrong size', () => {
    const scheduler = new EulerAncestralScheduler(BASE);
    scheduler.setTimesteps(10);
    const sample = dummySampleDeter();
    const t = scheduler.timesteps[0] as number;
    expect(() => scheduler.step(sample, t, sample, { noise: () => new Float32Array(5) })).toThrow(
      /expected 768 values/,
    );
  });

  it('draws no noise for the last step, where sigma_up is 0, and its result does not depend on one', () => {
    const scheduler = new EulerAncestralScheduler(BASE);
    scheduler.setTimesteps(10);
    let draws = 0;
    const generator = new TorchCpuGenerator(3);
    const noise = () => {
      draws++;
      return generator.randn(4 * 3 * 8 * 8);
    };
    let sample = scaleTensor(dummySampleDeter(), scheduler.initNoiseSigma);
    const timesteps = scheduler.timesteps;
    for (const t of timesteps.slice(0, -1)) sample = scheduler.step(sample, t, sample, { noise }).prevSample;
    expect(draws).toBe(timesteps.length - 1);
    // The last step's result is the deterministic Euler step to sigma 0 (sigma_down = sigma_to = 0):
    // x0 itself, for an epsilon model, whatever noise would have been drawn.
    const last = timesteps.at(-1)!;
    const output = dummySampleDeter();
    const prev = scheduler.step(output, last, sample, { noise }).prevSample;
    expect(draws).toBe(timesteps.length - 1);
    const sigma = Math.fround(scheduler.sigmas.at(-2)!);
    for (const i of [0, 1, 100, 767]) {
      const x0 = sample.data[i]! - sigma * output.data[i]!;
      expect(Math.abs(prev.data[i]! - x0)).toBeLessThanOrEqual(1e-6 * Math.abs(x0));
    }
  });
});
