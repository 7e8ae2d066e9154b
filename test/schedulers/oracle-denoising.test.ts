import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../src/engine/schedulers/index.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import { cleanAndNoise, denoiseWithOracle, maxAbsDiff } from './support/oracle.ts';

const SD_LIKE: SchedulerConfig = {
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  beta_end: 0.012,
  num_train_timesteps: 1000,
  set_alpha_to_one: true,
  clip_sample: false,
};

describe('with a model that predicts the true noise, deterministic schedulers recover the clean sample', () => {
  const { x0, noise } = cleanAndNoise();
  for (const name of ['ddim', 'euler', 'dpmpp_2m', 'dpmpp_2m_karras', 'pndm']) {
    for (const steps of [5, 25]) {
      it(`${name}, ${steps} steps`, () => {
        const scheduler = createScheduler(name, { ...SD_LIKE, skip_prk_steps: name === 'pndm' && steps < 5 });
        // Start on the forward-process trajectory at the first timestep, as img2img at strength 1 does.
        const out = denoiseWithOracle(
          scheduler,
          steps,
          () => noise,
          (t) => scheduler.addNoise(x0, noise, t),
        );
        expect(maxAbsDiff(out, x0)).toBeLessThan(2e-4);
      });
    }
  }
});
