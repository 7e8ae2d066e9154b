import { FlowMatchEulerDiscreteScheduler } from './flow-match-euler-discrete-scheduler.ts';
import { LcmScheduler } from './lcm-scheduler.ts';
import type { Scheduler } from './scheduler.ts';
import { misuse } from './scheduler-misuse.ts';

export interface StrengthSchedule {
  /** The timesteps to denoise, a tail of the full schedule. */
  timesteps: readonly number[];
  /** The timestep to noise the encoded image to (`addNoise(latents, noise, startTimestep)`). */
  startTimestep: number;
  /** Model evaluations that will run: `timesteps.length`. */
  numInferenceSteps: number;
}

/**
 * diffusers' img2img `get_timesteps`: sets `steps` timesteps on the scheduler, keeps the last
 * `floor(steps * strength)` of them (times the scheduler's order), and tells the scheduler where the
 * loop starts (`set_begin_index`). LCM, as diffusers' LCM img2img pipeline, passes `strength` to its
 * own `setTimesteps` instead, which draws all `steps` from the lower part of its schedule. SD3's
 * img2img pipeline (flow matching) does not floor `steps * strength` before subtracting it, so it keeps
 * one step more where the product is fractional (28 steps at 0.6: 17, not 16).
 */
export function timestepsForStrength(
  scheduler: Scheduler,
  steps: number,
  strength: number,
): StrengthSchedule {
  if (!(strength >= 0 && strength <= 1))
    throw misuse(scheduler.className, `strength must be in 0..1, got ${strength}`);
  let timesteps: readonly number[];
  if (scheduler instanceof LcmScheduler) {
    scheduler.setTimesteps(steps, strength);
    timesteps = scheduler.timesteps;
  } else {
    scheduler.setTimesteps(steps);
    const product = steps * strength;
    const initTimestep = Math.min(
      scheduler instanceof FlowMatchEulerDiscreteScheduler ? product : Math.floor(product),
      steps,
    );
    const tStart = Math.trunc(Math.max(steps - initTimestep, 0));
    timesteps = scheduler.timesteps.slice(tStart * scheduler.order);
    scheduler.setBeginIndex(tStart * scheduler.order);
  }
  const first = timesteps[0];
  if (first === undefined) {
    throw misuse(
      scheduler.className,
      `strength ${strength} with ${steps} steps leaves no denoising step; raise the strength or the steps`,
    );
  }
  return { timesteps, startTimestep: first, numInferenceSteps: timesteps.length };
}
