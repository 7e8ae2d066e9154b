import { describe, expect, it } from 'vitest';
import { createScheduler, parseSchedulerConfigJson } from '../../src/engine/schedulers/index.ts';

// A DPMSolverMultistepScheduler config as diffusers' save_config writes it (Python's json: bare -Infinity).
const SAVED_BY_DIFFUSERS = `{
  "_class_name": "DPMSolverMultistepScheduler",
  "_diffusers_version": "0.27.0",
  "algorithm_type": "dpmsolver++",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "lambda_min_clipped": -Infinity,
  "note": "a string with -Infinity and NaN inside stays a string",
  "num_train_timesteps": 1000,
  "solver_order": 2,
  "trained_betas": null
}`;

describe('parseSchedulerConfigJson', () => {
  it('reads the bare -Infinity Python writes for lambda_min_clipped and leaves strings alone', () => {
    const config = parseSchedulerConfigJson(SAVED_BY_DIFFUSERS);
    expect(config.lambda_min_clipped).toBe(-Infinity);
    expect(config.note).toBe('a string with -Infinity and NaN inside stays a string');
    const scheduler = createScheduler('DPMSolverMultistepScheduler', config);
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps[0]).toBe(999);
  });

  it('test_lambda_min_clipped: a finite clip drops the noisiest timesteps of a cosine schedule', () => {
    // On the cosine schedule log-SNR falls far below -5.1 near t = 999 (the clip DeepFloyd IF uses).
    const config = {
      ...parseSchedulerConfigJson(SAVED_BY_DIFFUSERS),
      beta_schedule: 'squaredcos_cap_v2',
      lambda_min_clipped: -5.1,
    };
    const scheduler = createScheduler('DPMSolverMultistepScheduler', config);
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps[0]).toBeLessThan(999);
    expect(scheduler.timesteps[0]).toBeGreaterThan(900);
  });

  it('refuses a file that is not a JSON object', () => {
    expect(() => parseSchedulerConfigJson('[1, 2]')).toThrow(/must hold a JSON object/);
    expect(() => parseSchedulerConfigJson('{"beta_end": }')).toThrow(SyntaxError);
  });
});
