import { describe, expect, it } from 'vitest';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import type { Tensor } from '../../src/engine/schedulers/tensor.ts';
import { UniPcMultistepScheduler } from '../../src/engine/schedulers/unipc-multistep-scheduler.ts';
import {
  absStats,
  dummyNoiseDeter,
  dummyNoiseDeter1d,
  dummySampleDeter,
  dummySampleDeter1d,
} from './support/diffusers-fixtures.ts';
import { expectNear, plainLoop } from './support/reference-loop.ts';

// diffusers tests/schedulers/test_scheduler_unipc.py, `get_scheduler_config`; 10 inference steps.
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  solver_type: 'bh2',
  final_sigmas_type: 'sigma_min',
};

function fullLoopMean(start: Tensor, config: SchedulerConfig = {}): number {
  const scheduler = new UniPcMultistepScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  return absStats(plainLoop(scheduler, start, scheduler.timesteps)).mean;
}

function withNoise(sample: Tensor, noise: Tensor) {
  const scheduler = new UniPcMultistepScheduler(BASE);
  scheduler.setTimesteps(10);
  const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
  const start = scheduler.addNoise(sample, noise, timesteps[0] as number);
  return absStats(plainLoop(scheduler, start, timesteps));
}

describe('UniPC against diffusers test_scheduler_unipc.py (UniPCMultistepSchedulerTest)', () => {
  it('test_full_loop_no_noise / test_switch: mean 0.2464', () => {
    expectNear(fullLoopMean(dummySampleDeter()), 0.2464, 1e-3);
  });

  it('test_full_loop_with_karras: mean 0.2925', () => {
    expectNear(fullLoopMean(dummySampleDeter(), { use_karras_sigmas: true }), 0.2925, 1e-3);
  });

  it('test_full_loop_with_v_prediction: mean 0.1014', () => {
    expectNear(fullLoopMean(dummySampleDeter(), { prediction_type: 'v_prediction' }), 0.1014, 1e-3);
  });

  it('test_full_loop_with_karras_and_v_prediction: mean 0.1966', () => {
    const mean = fullLoopMean(dummySampleDeter(), {
      prediction_type: 'v_prediction',
      use_karras_sigmas: true,
    });
    expectNear(mean, 0.1966, 1e-3);
  });

  it('test_full_loop_with_noise: add_noise at the 9th of 10 steps, sum 315.5757, mean 0.4109', () => {
    const { sum, mean } = withNoise(dummySampleDeter(), dummyNoiseDeter());
    expectNear(sum, 315.5757, 1e-2);
    expectNear(mean, 0.4109, 1e-3);
  });

  it('test_solver_order_and_type: every order, bh1/bh2, data or noise prediction gives no NaN', () => {
    for (const solver_type of ['bh1', 'bh2']) {
      for (const solver_order of [1, 2, 3]) {
        for (const prediction_type of ['epsilon', 'sample']) {
          for (const predict_x0 of [true, false]) {
            const mean = fullLoopMean(dummySampleDeter(), {
              solver_type,
              solver_order,
              prediction_type,
              predict_x0,
            });
            expect(
              Number.isNaN(mean),
              `${solver_type} ${solver_order} ${prediction_type} ${predict_x0}`,
            ).toBe(false);
          }
        }
      }
    }
  });

  it('maps a DPM-Solver config’s solver type to bh2, as diffusers (same result)', () => {
    expectNear(fullLoopMean(dummySampleDeter(), { solver_type: 'midpoint' }), 0.2464, 1e-3);
  });

  it('refuses what it does not port, naming the key', () => {
    expect(() => new UniPcMultistepScheduler({ use_flow_sigmas: true })).toThrow(/"use_flow_sigmas"/);
    expect(() => new UniPcMultistepScheduler({ solver_p: {} })).toThrow(/"solver_p"/);
    expect(() => new UniPcMultistepScheduler({ prediction_type: 'flow_prediction' })).toThrow(
      /"prediction_type"/,
    );
  });

  it('skips the corrector after the steps disable_corrector lists', () => {
    const all = fullLoopMean(dummySampleDeter());
    const without = fullLoopMean(dummySampleDeter(), { disable_corrector: [0, 1, 2] });
    expect(without).not.toBe(all);
  });
});

describe('UniPC against diffusers test_scheduler_unipc.py (UniPCMultistepScheduler1DTest)', () => {
  it('test_full_loop_no_noise / test_switch: mean 0.2441', () => {
    expectNear(fullLoopMean(dummySampleDeter1d()), 0.2441, 1e-3);
  });

  it('test_full_loop_with_karras: mean 0.2898', () => {
    expectNear(fullLoopMean(dummySampleDeter1d(), { use_karras_sigmas: true }), 0.2898, 1e-3);
  });

  it('test_full_loop_with_v_prediction: mean 0.1014', () => {
    expectNear(fullLoopMean(dummySampleDeter1d(), { prediction_type: 'v_prediction' }), 0.1014, 1e-3);
  });

  it('test_full_loop_with_karras_and_v_prediction: mean 0.1944', () => {
    const mean = fullLoopMean(dummySampleDeter1d(), {
      prediction_type: 'v_prediction',
      use_karras_sigmas: true,
    });
    expectNear(mean, 0.1944, 1e-3);
  });

  it('test_full_loop_with_noise: sum 39.0870, mean 0.4072', () => {
    const { sum, mean } = withNoise(dummySampleDeter1d(), dummyNoiseDeter1d());
    expectNear(sum, 39.087, 1e-2);
    expectNear(mean, 0.4072, 1e-3);
  });
});
