import { CodedError } from '../../errors/coded-error.ts';
import { DdimScheduler } from './ddim-scheduler.ts';
import { DpmSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.ts';
import { EulerAncestralScheduler } from './euler-ancestral-scheduler.ts';
import { EulerDiscreteScheduler } from './euler-discrete-scheduler.ts';
import { LcmScheduler } from './lcm-scheduler.ts';
import { PndmScheduler } from './pndm-scheduler.ts';
import type { Scheduler } from './scheduler.ts';
import type { SchedulerConfig } from './scheduler-config.ts';

export { type StrengthSchedule, timestepsForStrength } from './img2img-timesteps.ts';
export type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
export { parseSchedulerConfigJson, type SchedulerConfig } from './scheduler-config.ts';
export type { Tensor } from './tensor.ts';

/** easel's sampler names (the request's `sampler`), each a diffusers scheduler plus the settings that define it. */
export const SCHEDULER_NAMES = [
  'euler',
  'euler_a',
  'ddim',
  'dpmpp_2m',
  'dpmpp_2m_karras',
  'lcm',
  'pndm',
] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

const BY_NAME: Record<SchedulerName, (config: SchedulerConfig) => Scheduler> = {
  euler: (c) => new EulerDiscreteScheduler({ ...c, use_karras_sigmas: false }),
  euler_a: (c) => new EulerAncestralScheduler(c),
  ddim: (c) => new DdimScheduler(c),
  dpmpp_2m: (c) => new DpmSolverMultistepScheduler({ ...c, ...DPMPP_2M, use_karras_sigmas: false }),
  dpmpp_2m_karras: (c) => new DpmSolverMultistepScheduler({ ...c, ...DPMPP_2M, use_karras_sigmas: true }),
  lcm: (c) => new LcmScheduler(c),
  pndm: (c) => new PndmScheduler(c),
};

/** What "DPM++ 2M" means whatever the model's config says about the solver. */
const DPMPP_2M = { algorithm_type: 'dpmsolver++', solver_order: 2 } as const;

/** diffusers class names, used with the config exactly as given. */
const BY_CLASS: Record<string, (config: SchedulerConfig) => Scheduler> = {
  DDIMScheduler: (c) => new DdimScheduler(c),
  EulerDiscreteScheduler: (c) => new EulerDiscreteScheduler(c),
  EulerAncestralDiscreteScheduler: (c) => new EulerAncestralScheduler(c),
  DPMSolverMultistepScheduler: (c) => new DpmSolverMultistepScheduler(c),
  LCMScheduler: (c) => new LcmScheduler(c),
  PNDMScheduler: (c) => new PndmScheduler(c),
};

function isSchedulerName(name: string): name is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(name);
}

/**
 * A scheduler by easel name (`euler`, `euler_a`, `ddim`, `dpmpp_2m`, `dpmpp_2m_karras`, `lcm`, `pndm`)
 * or diffusers class name, configured from the model's parsed `scheduler/scheduler_config.json`: the
 * noise schedule (`num_train_timesteps`, `beta_*`, `trained_betas`, `rescale_betas_zero_snr`), the
 * spacing (`timestep_spacing`, `steps_offset`) and `prediction_type` come from the model, whichever
 * scheduler it shipped with; keys the chosen scheduler does not use are ignored.
 */
export function createScheduler(name: string, config: SchedulerConfig = {}): Scheduler {
  const make = isSchedulerName(name) ? BY_NAME[name] : BY_CLASS[name];
  if (make === undefined) {
    throw new CodedError(
      'config-invalid',
      `unknown scheduler "${name}"; use one of ${SCHEDULER_NAMES.join(', ')} or ${Object.keys(BY_CLASS).join(', ')}`,
    );
  }
  return make(config);
}

export {
  DdimScheduler,
  DpmSolverMultistepScheduler,
  EulerAncestralScheduler,
  EulerDiscreteScheduler,
  LcmScheduler,
  PndmScheduler,
};
