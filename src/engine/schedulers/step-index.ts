import { misuse } from './scheduler-misuse.ts';

/**
 * Where a sigma-indexed scheduler is in its schedule. As in diffusers, the first `step` locates its
 * timestep in the schedule (the second match when a timestep repeats, so img2img starting on a
 * repeated value does not skip a sigma) unless `setBeginIndex` said where the loop starts.
 */
export class StepIndex {
  private current: number | undefined;
  private begin: number | undefined;

  constructor(private readonly className: string) {}

  reset(): void {
    this.current = undefined;
    this.begin = undefined;
  }

  setBegin(index: number): void {
    this.begin = index;
  }

  get beginIndex(): number | undefined {
    return this.begin;
  }

  get stepIndex(): number | undefined {
    return this.current;
  }

  /** The index of the step about to run. */
  resolve(schedule: readonly number[], timestep: number, whenMissing: 'throw' | 'last' = 'throw'): number {
    if (this.current === undefined) {
      this.current = this.begin ?? indexForTimestep(this.className, schedule, timestep, whenMissing);
    }
    return this.current;
  }

  advance(): void {
    if (this.current !== undefined) this.current += 1;
  }
}

function indexForTimestep(
  className: string,
  schedule: readonly number[],
  timestep: number,
  whenMissing: 'throw' | 'last' = 'throw',
): number {
  const matches: number[] = [];
  schedule.forEach((t, i) => {
    if (t === timestep) matches.push(i);
  });
  const index = matches.length > 1 ? matches[1] : matches[0];
  if (index !== undefined) return index;
  if (whenMissing === 'last') return schedule.length - 1;
  throw misuse(
    className,
    `timestep ${timestep} is not in the schedule; call setTimesteps and step through its timesteps`,
  );
}

/** diffusers' `add_noise` for sigma schedulers: which sigma noises a sample at `timestep`. */
export function addNoiseIndex(
  className: string,
  tracker: StepIndex,
  schedule: readonly number[],
  timestep: number,
): number {
  // Before the loop (img2img) the begin index applies; after it started (inpainting's per-step
  // re-noising of the known region) the current step does.
  if (tracker.beginIndex === undefined) return indexForTimestep(className, schedule, timestep);
  return tracker.stepIndex ?? tracker.beginIndex;
}
