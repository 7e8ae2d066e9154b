import { describe, expect, it } from 'vitest';
import { resolveSampler } from '../../src/request/sampler-names.ts';
import { DIFFUSERS_SCHEDULER_CLASSES, SAMPLERS } from '../../src/request/types.ts';

describe('resolveSampler', () => {
  it('accepts easel names in any case', () => {
    for (const name of SAMPLERS) {
      expect(resolveSampler(name)).toBe(name);
      expect(resolveSampler(name.toUpperCase())).toBe(name);
    }
  });

  it.each([
    ['Euler a', 'euler_a'],
    ['euler_ancestral', 'euler_a'],
    ['eulerancestraldiscretescheduler', 'euler_a'],
    ['k_euler_ancestral', 'euler_a'],
    ['Euler', 'euler'],
    ['eulerdiscretescheduler', 'euler'],
    ['DDIM', 'ddim'],
    ['ddimscheduler', 'ddim'],
    ['DPM Multi', 'dpmpp_2m'],
    ['dpmsolvermultistepscheduler', 'dpmpp_2m'],
    ['DPM++ 2M', 'dpmpp_2m'],
    ['DPM++ 2M Karras', 'dpmpp_2m_karras'],
    ['LCM', 'lcm'],
    ['lcmscheduler', 'lcm'],
    ['PNDM', 'pndm'],
    ['pndmscheduler', 'pndm'],
    ['Heun', 'heun'],
    ['heundiscretescheduler', 'heun'],
    ['k_heun', 'heun'],
    ['LMS', 'lms'],
    ['lmsdiscretescheduler', 'lms'],
    ['k_lms', 'lms'],
    ['LMS Karras', 'lms_karras'],
    ['DPM Single', 'dpm_single'],
    ['dpmsolversinglestepscheduler', 'dpm_single'],
    ['DPM Single Karras', 'dpm_single_karras'],
    ['DPM2', 'dpm2'],
    ['kdpm2discretescheduler', 'dpm2'],
    ['k_dpm_2', 'dpm2'],
    ['DPM2 Karras', 'dpm2_karras'],
    ['DPM2 a', 'dpm2_a'],
    ['kdpm2ancestraldiscretescheduler', 'dpm2_a'],
    ['k_dpm_2_ancestral', 'dpm2_a'],
    ['DPM2 a Karras', 'dpm2_a_karras'],
    ['UniPC', 'unipc'],
    ['unipcmultistepscheduler', 'unipc'],
    ['DEIS', 'deis'],
    ['deismultistepscheduler', 'deis'],
    ['DPM++ 2M SDE', 'dpmpp_2m_sde'],
    ['k_dpmpp_2m_sde', 'dpmpp_2m_sde'],
    ['DPM++ 2M SDE Karras', 'dpmpp_2m_sde_karras'],
  ])('maps the hosted name %s to %s', (name, expected) => {
    expect(resolveSampler(name)).toBe(expected);
  });

  it('keeps a diffusers class name spelled exactly as that class, to run with the model config as given', () => {
    for (const name of DIFFUSERS_SCHEDULER_CLASSES) {
      expect(resolveSampler(name)).toBe(name);
      expect(resolveSampler(` ${name} `)).toBe(name);
    }
  });

  it('knows nothing of samplers easel does not have', () => {
    // DPMSolverSDEScheduler (A1111's "DPM++ SDE") needs a Brownian tree and is not ported.
    for (const name of ['DPM++ SDE', 'DPMSolverSDEScheduler', 'DPM fast', 'euler b', '', 'dpm']) {
      expect(resolveSampler(name), name).toBeUndefined();
    }
  });

  it('every hosted sampler name of seed 004 resolves', () => {
    const hosted = [
      'DDIM',
      'DPM Multi',
      'DPM Single',
      'Euler a',
      'Euler',
      'Heun',
      'DPM2 a Karras',
      'DPM2 Karras',
      'LMS',
      'PNDM',
    ];
    for (const name of hosted) expect(resolveSampler(name), name).toBeDefined();
  });
});
