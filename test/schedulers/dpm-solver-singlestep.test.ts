import { describe, expect, it } from 'vitest';
import {
  DpmSolverSinglestepScheduler,
  singlestepOrders,
} from '../../src/engine/schedulers/dpm-solver-singlestep-scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import { absStats, dummyNoiseDeter, dummySampleDeter } from './support/diffusers-fixtures.ts';
import { expectNear, plainLoop } from './support/reference-loop.ts';
import { TorchCpuGenerator } from './support/torch-cpu-randn.ts';

// diffusers tests/schedulers/test_scheduler_dpm_single.py, `get_scheduler_config`; 10 inference steps.
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lambda_min_clipped: -Infinity,
  variance_type: null,
  final_sigmas_type: 'sigma_min',
};

function fullLoopMean(config: SchedulerConfig = {}, steps = 10, from = 0): number {
  const scheduler = new DpmSolverSinglestepScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(steps);
  const generator = new TorchCpuGenerator(0);
  const options = { noise: () => generator.randn(768) };
  return absStats(plainLoop(scheduler, dummySampleDeter(), scheduler.timesteps.slice(from), options)).mean;
}

describe('DPM-Solver singlestep against diffusers test_scheduler_dpm_single.py', () => {
  it('test_full_loop_no_noise / test_switch: mean 0.2791', () => {
    expectNear(fullLoopMean(), 0.2791, 1e-3);
  });

  it('test_full_loop_with_karras: mean 0.2248', () => {
    expectNear(fullLoopMean({ use_karras_sigmas: true }), 0.2248, 1e-3);
  });

  it('test_full_loop_with_v_prediction: mean 0.1453', () => {
    expectNear(fullLoopMean({ prediction_type: 'v_prediction' }), 0.1453, 1e-3);
  });

  it('test_full_loop_with_karras_and_v_prediction: mean 0.0649', () => {
    expectNear(fullLoopMean({ prediction_type: 'v_prediction', use_karras_sigmas: true }), 0.0649, 1e-3);
  });

  it('test_full_uneven_loop: 50 steps entered at the 4th, mean 0.2574', () => {
    expectNear(fullLoopMean({}, 50, 3), 0.2574, 1e-3);
  });

  it('test_full_loop_with_noise: add_noise at the 6th of 10 steps, sum 269.2187, mean 0.3505', () => {
    const scheduler = new DpmSolverSinglestepScheduler(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(5 * scheduler.order);
    const start = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0] as number);
    const { sum, mean } = absStats(plainLoop(scheduler, start, timesteps));
    expectNear(sum, 269.2187, 1e-2);
    expectNear(mean, 0.3505, 1e-3);
  });

  it('test_solver_order_and_type: every algorithm, order, solver type and prediction gives no NaN', () => {
    for (const algorithm_type of ['dpmsolver', 'dpmsolver++', 'sde-dpmsolver++']) {
      for (const solver_type of ['midpoint', 'heun']) {
        for (const solver_order of [1, 2, 3]) {
          for (const prediction_type of ['epsilon', 'sample']) {
            const mean = fullLoopMean({ algorithm_type, solver_type, solver_order, prediction_type });
            expect(
              Number.isNaN(mean),
              `${algorithm_type} ${solver_type} ${solver_order} ${prediction_type}`,
            ).toBe(false);
          }
        }
      }
    }
  });

  it('groups steps as diffusers’ get_order_list', () => {
    expect(singlestepOrders(10, 2, false, false)).toEqual([1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
    expect(singlestepOrders(10, 2, true, false)).toEqual([1, 2, 1, 2, 1, 2, 1, 2, 1, 1]);
    expect(singlestepOrders(7, 3, true, false)).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(singlestepOrders(6, 3, true, true)).toEqual([1, 2, 3, 1, 2, 1]);
    expect(singlestepOrders(5, 2, true, true)).toEqual([1, 2, 1, 2, 1]);
  });

  it('sde-dpmsolver++ takes its noise only from the caller', () => {
    const run = (seed: number) => {
      const scheduler = new DpmSolverSinglestepScheduler({ ...BASE, algorithm_type: 'sde-dpmsolver++' });
      scheduler.setTimesteps(10);
      const generator = new TorchCpuGenerator(seed);
      return plainLoop(scheduler, dummySampleDeter(), scheduler.timesteps, {
        noise: () => generator.randn(768),
      }).data;
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
  });

  it('refuses what it does not port, naming the key', () => {
    expect(() => new DpmSolverSinglestepScheduler({ variance_type: 'learned_range' })).toThrow(
      /"variance_type"/,
    );
    expect(
      () =>
        new DpmSolverSinglestepScheduler({
          algorithm_type: 'dpmsolver',
          final_sigmas_type: 'sigma_min',
          thresholding: true,
        }),
    ).toThrow(/"thresholding"/);
    expect(
      () => new DpmSolverSinglestepScheduler({ use_exponential_sigmas: true, use_karras_sigmas: true }),
    ).toThrow(/"use_karras_sigmas" cannot be combined/);
  });
});
