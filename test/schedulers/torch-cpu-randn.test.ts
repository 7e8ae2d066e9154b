import { describe, expect, it } from 'vitest';
import { TorchCpuGenerator } from './support/torch-cpu-randn.ts';

describe('the torch CPU randn reproduction used by the reference tests', () => {
  it('matches torch.manual_seed(0); torch.randn(4, 4)', () => {
    const expected = [
      -1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152, 0.3223, -1.2633, 0.35, 0.3081,
      0.1198, 1.2377, 1.1168, -0.2473,
    ];
    const values = Array.from(new TorchCpuGenerator(0).randn(16));
    values.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i] as number, 4);
    });
  });
});
