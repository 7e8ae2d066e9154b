import { describe, expect, it } from 'vitest';
import { resolveSampler } from '../../src/request/sampler-names.ts';
import { SAMPLERS } from '../../src/request/types.ts';

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
    ['EulerAncestralDiscreteScheduler', 'euler_a'],
    ['k_euler_ancestral', 'euler_a'],
    ['Euler', 'euler'],
    ['EulerDiscreteScheduler', 'euler'],
    ['DDIM', 'ddim'],
    ['DDIMScheduler', 'ddim'],
    ['DPM Multi', 'dpmpp_2m'],
    ['DPMSolverMultistepScheduler', 'dpmpp_2m'],
    ['DPM++ 2M', 'dpmpp_2m'],
    ['DPM++ 2M Karras', 'dpmpp_2m_karras'],
    ['LCM', 'lcm'],
    ['LCMScheduler', 'lcm'],
    ['PNDM', 'pndm'],
    ['PNDMScheduler', 'pndm'],
  ])('maps the hosted name %s to %s', (name, expected) => {
    expect(resolveSampler(name)).toBe(expected);
  });

  it('knows nothing of samplers easel does not have', () => {
    for (const name of ['heun', 'HeunDiscreteScheduler', 'UniPCMultistepScheduler', 'euler b', '', 'dpm']) {
      expect(resolveSampler(name), name).toBeUndefined();
    }
  });
});
