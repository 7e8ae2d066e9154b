import { describe, expect, it } from 'vitest';
import { betaPpf } from '../../src/engine/schedulers/beta-distribution.ts';
import { spaceSigmas } from '../../src/engine/schedulers/sigma-spacing.ts';

describe('beta sigmas: the beta(0.6, 0.6) quantiles diffusers takes from scipy', () => {
  // scipy.stats.beta.ppf(q, 0.6, 0.6), scipy 1.17.1.
  it.each([
    [0.001, 1.855873851745199e-5],
    [0.1, 0.03958440558878085],
    [0.25, 0.17568037865269498],
    [0.5, 0.5],
    [0.9, 0.9604155944112192],
    [0.999, 0.9999814412614826],
  ])('ppf(%f) = %f', (q, expected) => {
    expect(Math.abs(betaPpf(q, 0.6, 0.6) - expected)).toBeLessThan(1e-12);
  });

  it('spaces n sigmas from sigma_max to sigma_min, crowding both ends', () => {
    const sigmas = spaceSigmas({ kind: 'beta' }, [14.6, 0.03], 10);
    expect(sigmas[0]).toBeCloseTo(14.6, 10);
    expect(sigmas[9]).toBeCloseTo(0.03, 10);
    expect((sigmas[0] as number) - (sigmas[1] as number)).toBeLessThan(
      (sigmas[4] as number) - (sigmas[5] as number),
    );
  });
});

describe('exponential sigmas', () => {
  it('are evenly spaced in log sigma between the ends', () => {
    const sigmas = spaceSigmas({ kind: 'exponential' }, [10, 0.1], 5);
    const logs = sigmas.map(Math.log);
    for (let i = 1; i < logs.length; i++)
      expect((logs[i - 1] as number) - (logs[i] as number)).toBeCloseTo(Math.log(100) / 4, 10);
  });

  it('take configured ends where the scheduler has sigma_min / sigma_max', () => {
    const sigmas = spaceSigmas({ kind: 'exponential', sigmaMin: 0.5, sigmaMax: 8 }, [10, 0.1], 5);
    expect(sigmas[0]).toBeCloseTo(8, 10);
    expect(sigmas[4]).toBeCloseTo(0.5, 10);
  });
});
