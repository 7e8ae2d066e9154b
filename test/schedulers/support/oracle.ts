import type { Scheduler } from '../../../src/engine/schedulers/scheduler.ts';
import type { Tensor } from '../../../src/engine/schedulers/tensor.ts';
import { TorchCpuGenerator } from './torch-cpu-randn.ts';

/** A clean "image" in [-0.9, 0.9] and a fixed standard-normal noise of the same shape. */
export function cleanAndNoise(): { x0: Tensor; noise: Tensor } {
  const dims = [1, 4, 8, 8];
  const n = 256;
  const x0 = new Float32Array(n);
  for (let i = 0; i < n; i++) x0[i] = 0.9 * Math.sin(i * 0.37);
  return { x0: { data: x0, dims }, noise: { data: new TorchCpuGenerator(123).randn(n), dims } };
}

/**
 * Runs a full denoising loop with a perfect model that knows the clean sample and the noise (its
 * prediction is built by `predict`). A correct deterministic scheduler then lands on x0 exactly,
 * whatever its step count: a strong end-to-end check of the schedule and the update formulas.
 */
export function denoiseWithOracle(
  scheduler: Scheduler,
  steps: number,
  predict: (t: number) => Tensor,
  start: (firstTimestep: number) => Tensor,
): Tensor {
  scheduler.setTimesteps(steps);
  let sample = start(scheduler.timesteps[0] as number);
  for (const t of scheduler.timesteps) sample = scheduler.step(predict(t), t, sample).prevSample;
  return sample;
}

export function maxAbsDiff(a: Tensor, b: Tensor): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i++)
    max = Math.max(max, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return max;
}
