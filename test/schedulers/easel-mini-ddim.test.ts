import { describe, expect, it } from 'vitest';
import { DdimScheduler } from '../../src/engine/schedulers/ddim-scheduler.ts';
import { cosineBetas } from '../../src/engine/schedulers/noise-schedule.ts';
import type { Tensor } from '../../src/engine/schedulers/tensor.ts';
import { cleanAndNoise, denoiseWithOracle, maxAbsDiff } from './support/oracle.ts';

// The in-house easel-mini model is trained with v-prediction on diffusers' cosine schedule and sampled
// with DDIM, trailing spacing and clip_sample (models/easel-mini/train/common.py).
const EASEL_MINI = {
  _class_name: 'DDIMScheduler',
  _diffusers_version: '0.30.0',
  num_train_timesteps: 1000,
  beta_schedule: 'squaredcos_cap_v2',
  prediction_type: 'v_prediction',
  timestep_spacing: 'trailing',
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
};

describe('DDIM with the easel-mini config (v-prediction, squaredcos_cap_v2, trailing, clip_sample)', () => {
  it('uses the Glide cosine betas: alpha_bar(t) = cos^2((t/T + 0.008) / 1.008 * pi/2), capped at 0.999', () => {
    const betas = cosineBetas(1000);
    const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    expect(betas[0]).toBeCloseTo(1 - alphaBar(0.001) / alphaBar(0), 7);
    expect(betas[500]).toBeCloseTo(1 - alphaBar(0.501) / alphaBar(0.5), 7);
    expect(betas[999]).toBeCloseTo(0.999, 7);
  });

  it('trailing spacing starts at the last training timestep: 5 steps are [999, 799, 599, 399, 199]', () => {
    const scheduler = new DdimScheduler(EASEL_MINI);
    scheduler.setTimesteps(5);
    expect(scheduler.timesteps).toEqual([999, 799, 599, 399, 199]);
    scheduler.setTimesteps(3);
    expect(scheduler.timesteps).toEqual([999, 666, 332]);
  });

  it('keeps exactly n trailing timesteps where numpy arange would add a -1 (61 steps)', () => {
    const scheduler = new DdimScheduler(EASEL_MINI);
    scheduler.setTimesteps(61);
    expect(scheduler.timesteps).toHaveLength(61);
    expect(Math.min(...scheduler.timesteps)).toBeGreaterThanOrEqual(0);
  });

  for (const steps of [1, 4, 25]) {
    it(`recovers the clean sample from a perfect v-prediction model in ${steps} steps`, () => {
      const scheduler = new DdimScheduler(EASEL_MINI);
      const { x0, noise } = cleanAndNoise();
      const v = (t: number) => {
        // v = sqrt(a_t) * eps - sqrt(1 - a_t) * x0 (Salimans & Ho 2022)
        const a = scheduler.alphasCumprod[t] as number;
        const data = x0.data.map((x, i) => Math.sqrt(a) * (noise.data[i] as number) - Math.sqrt(1 - a) * x);
        return { data, dims: x0.dims };
      };
      const out = denoiseWithOracle(scheduler, steps, v, (t) => scheduler.addNoise(x0, noise, t));
      expect(maxAbsDiff(out, x0)).toBeLessThan(1e-4);
    });
  }

  it('clips the predicted x0 to [-1, 1]: a model predicting an impossible image still ends in range', () => {
    const scheduler = new DdimScheduler(EASEL_MINI);
    scheduler.setTimesteps(10);
    let sample: Tensor = { data: new Float32Array(64).fill(3), dims: [1, 1, 8, 8] };
    for (const t of scheduler.timesteps) {
      const wild = { data: new Float32Array(64).fill(-50), dims: [1, 1, 8, 8] };
      sample = scheduler.step(wild, t, sample).prevSample;
    }
    expect(Math.max(...sample.data.map(Math.abs))).toBeLessThanOrEqual(1 + 1e-6);
  });
});
