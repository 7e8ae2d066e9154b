import {
  type Scheduler,
  type StepOptions,
  scaleModelInput,
} from '../../../src/engine/schedulers/scheduler.ts';
import type { Tensor } from '../../../src/engine/schedulers/tensor.ts';
import { dummyModel } from './diffusers-fixtures.ts';

/**
 * The loop of diffusers' sigma-scheduler tests (test_scheduler_euler*.py): the scaled model input is
 * fed to the dummy model *and* passed to `step` as the sample, as those tests do.
 */
export function scaledInputLoop(
  scheduler: Scheduler,
  start: Tensor,
  timesteps: readonly number[],
  options: StepOptions = {},
): Tensor {
  let sample = start;
  for (const t of timesteps) {
    const input = scaleModelInput(scheduler, sample, t);
    sample = scheduler.step(dummyModel(input, t), t, input, options).prevSample;
  }
  return sample;
}

/** The plain loop of the DDIM, DPM, PNDM and LCM tests: `step(model(x, t), t, x)`. */
export function plainLoop(
  scheduler: Scheduler,
  start: Tensor,
  timesteps: readonly number[],
  options: StepOptions = {},
): Tensor {
  let sample = start;
  for (const t of timesteps) sample = scheduler.step(dummyModel(sample, t), t, sample, options).prevSample;
  return sample;
}

/** diffusers' assertion `abs(value - published) < tolerance`, with the numbers in the failure message. */
export function expectNear(actual: number, published: number, tolerance: number): void {
  const diff = Math.abs(actual - published);
  if (!(diff < tolerance)) {
    throw new Error(`expected ${published} ± ${tolerance}, got ${actual} (off by ${diff})`);
  }
}
