import { describe, expect, it } from 'vitest';
import { DeisMultistepScheduler } from '../../src/engine/schedulers/deis-multistep-scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import { absStats, dummyNoiseDeter, dummySampleDeter } from './support/diffusers-fixtures.ts';
import { expectNear, plainLoop } from './support/reference-loop.ts';

// diffusers tests/schedulers/test_scheduler_deis.py, `get_scheduler_config`; 10 inference steps.
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
};

function fullLoopMean(config: SchedulerConfig = {}): number {
  const scheduler = new DeisMultistepScheduler({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  return absStats(plainLoop(scheduler, dummySampleDeter(), scheduler.timesteps)).mean;
}

describe('DEIS against diffusers test_scheduler_deis.py', () => {
  it('test_full_loop_no_noise / test_switch: mean 0.23916', () => {
    expectNear(fullLoopMean(), 0.23916, 1e-3);
  });

  it('test_full_loop_with_v_prediction: mean 0.091', () => {
    expectNear(fullLoopMean({ prediction_type: 'v_prediction' }), 0.091, 1e-3);
  });

  it('test_full_loop_with_noise: add_noise at the 9th of 10 steps, sum 315.3016, mean 0.41054', () => {
    const scheduler = new DeisMultistepScheduler(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    const start = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0] as number);
    const { sum, mean } = absStats(plainLoop(scheduler, start, timesteps));
    expectNear(sum, 315.3016, 1e-2);
    expectNear(mean, 0.41054, 1e-3);
  });

  it('test_solver_order_and_type: orders 1-3, epsilon and sample, give no NaN', () => {
    for (const solver_order of [1, 2, 3]) {
      for (const prediction_type of ['epsilon', 'sample']) {
        expect(
          Number.isNaN(fullLoopMean({ solver_order, prediction_type })),
          `${solver_order} ${prediction_type}`,
        ).toBe(false);
      }
    }
  });

  it('takes a DPM-Solver config’s algorithm and solver type as DEIS log-rho, as diffusers (same result)', () => {
    expectNear(fullLoopMean({ algorithm_type: 'dpmsolver++', solver_type: 'midpoint' }), 0.23916, 1e-3);
  });

  it('refuses a zero-terminal-SNR config, which diffusers’ DEIS has no option for', () => {
    expect(() => new DeisMultistepScheduler({ rescale_betas_zero_snr: true })).toThrow(
      /"rescale_betas_zero_snr"/,
    );
  });
});
