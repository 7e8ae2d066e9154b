import { CodedError } from '../../errors/coded-error.ts';
import { type DiffusersSchedulerClass, SAMPLERS, type SamplerName } from '../../request/types.ts';
import { DdimScheduler } from './ddim-scheduler.ts';
import { DeisMultistepScheduler } from './deis-multistep-scheduler.ts';
import { DpmSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.ts';
import { DpmSolverSinglestepScheduler } from './dpm-solver-singlestep-scheduler.ts';
import { EulerAncestralScheduler } from './euler-ancestral-scheduler.ts';
import { EulerDiscreteScheduler } from './euler-discrete-scheduler.ts';
import {
  type FlowMatchContext,
  FlowMatchEulerDiscreteScheduler,
} from './flow-match-euler-discrete-scheduler.ts';
import { HeunDiscreteScheduler } from './heun-discrete-scheduler.ts';
import { KDpm2AncestralDiscreteScheduler } from './k-dpm2-ancestral-discrete-scheduler.ts';
import { KDpm2DiscreteScheduler } from './k-dpm2-discrete-scheduler.ts';
import { LcmScheduler } from './lcm-scheduler.ts';
import { LmsDiscreteScheduler } from './lms-discrete-scheduler.ts';
import { PndmScheduler } from './pndm-scheduler.ts';
import type { Scheduler } from './scheduler.ts';
import { configError, type SchedulerConfig } from './scheduler-config.ts';
import { UniPcMultistepScheduler } from './unipc-multistep-scheduler.ts';

export type { FlowMatchContext } from './flow-match-euler-discrete-scheduler.ts';
export { type StrengthSchedule, timestepsForStrength } from './img2img-timesteps.ts';
export type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
export { parseSchedulerConfigJson, type SchedulerConfig } from './scheduler-config.ts';
export type { Tensor } from './tensor.ts';

/**
 * easel's sampler names (the request's `sampler`, listed once in src/request/types.ts), each a
 * diffusers scheduler plus the settings that define it.
 */
export const SCHEDULER_NAMES = SAMPLERS;
type SchedulerName = SamplerName;

/**
 * The sigma spacing a name stands for, whatever the model's config says ("LMS" is not "LMS Karras"
 * even for a model that ships use_karras_sigmas).
 */
const PLAIN = { use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false } as const;
const KARRAS = { ...PLAIN, use_karras_sigmas: true } as const;

/** What "DPM++ 2M" and "DPM++ 2M SDE" mean whatever the model's config says about the solver. */
const DPMPP_2M = { algorithm_type: 'dpmsolver++', solver_order: 2 } as const;
const DPMPP_2M_SDE = { algorithm_type: 'sde-dpmsolver++', solver_order: 2 } as const;
/** "DPM Single" is singlestep DPM-Solver++ (diffusers' default algorithm). */
const DPMPP_SINGLE = { algorithm_type: 'dpmsolver++' } as const;

type Make = (config: SchedulerConfig, context: FlowMatchContext) => Scheduler;

const BY_NAME: Record<SchedulerName, Make> = {
  euler: (c) => new EulerDiscreteScheduler({ ...c, use_karras_sigmas: false }),
  euler_a: (c) => new EulerAncestralScheduler(c),
  ddim: (c) => new DdimScheduler(c),
  dpmpp_2m: (c) => new DpmSolverMultistepScheduler({ ...c, ...DPMPP_2M, ...PLAIN }),
  dpmpp_2m_karras: (c) => new DpmSolverMultistepScheduler({ ...c, ...DPMPP_2M, ...KARRAS }),
  lcm: (c) => new LcmScheduler(c),
  pndm: (c) => new PndmScheduler(c),
  heun: (c) => new HeunDiscreteScheduler({ ...c, ...PLAIN }),
  lms: (c) => new LmsDiscreteScheduler({ ...c, ...PLAIN }),
  lms_karras: (c) => new LmsDiscreteScheduler({ ...c, ...KARRAS }),
  dpm_single: (c) => new DpmSolverSinglestepScheduler({ ...c, ...DPMPP_SINGLE, ...PLAIN }),
  dpm_single_karras: (c) => new DpmSolverSinglestepScheduler({ ...c, ...DPMPP_SINGLE, ...KARRAS }),
  dpm2: (c) => new KDpm2DiscreteScheduler({ ...c, ...PLAIN }),
  dpm2_karras: (c) => new KDpm2DiscreteScheduler({ ...c, ...KARRAS }),
  dpm2_a: (c) => new KDpm2AncestralDiscreteScheduler({ ...c, ...PLAIN }),
  dpm2_a_karras: (c) => new KDpm2AncestralDiscreteScheduler({ ...c, ...KARRAS }),
  unipc: (c) => new UniPcMultistepScheduler({ ...c, ...PLAIN }),
  deis: (c) => new DeisMultistepScheduler({ ...c, ...PLAIN }),
  dpmpp_2m_sde: (c) => new DpmSolverMultistepScheduler({ ...c, ...DPMPP_2M_SDE, ...PLAIN }),
  dpmpp_2m_sde_karras: (c) => new DpmSolverMultistepScheduler({ ...c, ...DPMPP_2M_SDE, ...KARRAS }),
  flow_euler: (c, context) => new FlowMatchEulerDiscreteScheduler(c, context),
};

/** diffusers class names, used with the config exactly as given. */
const BY_CLASS: Record<DiffusersSchedulerClass, Make> = {
  DDIMScheduler: (c) => new DdimScheduler(c),
  EulerDiscreteScheduler: (c) => new EulerDiscreteScheduler(c),
  EulerAncestralDiscreteScheduler: (c) => new EulerAncestralScheduler(c),
  DPMSolverMultistepScheduler: (c) => new DpmSolverMultistepScheduler(c),
  LCMScheduler: (c) => new LcmScheduler(c),
  PNDMScheduler: (c) => new PndmScheduler(c),
  HeunDiscreteScheduler: (c) => new HeunDiscreteScheduler(c),
  LMSDiscreteScheduler: (c) => new LmsDiscreteScheduler(c),
  DPMSolverSinglestepScheduler: (c) => new DpmSolverSinglestepScheduler(c),
  KDPM2DiscreteScheduler: (c) => new KDpm2DiscreteScheduler(c),
  KDPM2AncestralDiscreteScheduler: (c) => new KDpm2AncestralDiscreteScheduler(c),
  UniPCMultistepScheduler: (c) => new UniPcMultistepScheduler(c),
  DEISMultistepScheduler: (c) => new DeisMultistepScheduler(c),
  FlowMatchEulerDiscreteScheduler: (c, context) => new FlowMatchEulerDiscreteScheduler(c, context),
};

const FLOW_MATCHING = new Set<Make>([BY_NAME.flow_euler, BY_CLASS.FlowMatchEulerDiscreteScheduler]);

/**
 * A config written for a flow-matching model (SD3's `FlowMatchEulerDiscreteScheduler`): its model
 * predicts a velocity, which a noise-prediction sampler would take for noise and render garbage.
 */
function isFlowMatchingConfig(config: SchedulerConfig): boolean {
  const className = config._class_name;
  return typeof className === 'string' && className.startsWith('FlowMatch');
}

/**
 * Flow-matching and noise-prediction samplers are not interchangeable: each refuses the other's
 * model with the sampler named. A config without `_class_name` (hand-written, tests) is taken as given.
 */
function assertSamplerFitsModel(name: string, flowSampler: boolean, config: SchedulerConfig): void {
  const className = config._class_name;
  if (typeof className !== 'string') return;
  if (!flowSampler && isFlowMatchingConfig(config)) {
    throw configError(
      '_class_name',
      `is ${className}, a flow-matching model (Stable Diffusion 3): sampler "${name}" cannot sample it; use flow_euler`,
    );
  }
  if (flowSampler && !isFlowMatchingConfig(config)) {
    throw configError(
      '_class_name',
      `is ${className}, not a flow-matching model: sampler "${name}" samples only Stable Diffusion 3-style models; use one of the other samplers`,
    );
  }
}

function isSchedulerName(name: string): name is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(name);
}

/**
 * A scheduler by easel name (`SCHEDULER_NAMES`) or diffusers class name, configured from the model's parsed `scheduler/scheduler_config.json`: the
 * noise schedule (`num_train_timesteps`, `beta_*`, `trained_betas`, `rescale_betas_zero_snr`), the
 * spacing (`timestep_spacing`, `steps_offset`) and `prediction_type` come from the model, whichever
 * scheduler it shipped with; keys the chosen scheduler does not use are ignored, and an option of
 * the chosen scheduler that easel does not implement is refused with its key named. `context` carries
 * what a flow-matching schedule with `use_dynamic_shifting` needs to know about the image.
 */
export function createScheduler(
  name: string,
  config: SchedulerConfig = {},
  context: FlowMatchContext = {},
): Scheduler {
  const make: Make | undefined = isSchedulerName(name)
    ? BY_NAME[name]
    : BY_CLASS[name as DiffusersSchedulerClass];
  if (make === undefined) {
    throw new CodedError(
      'config-invalid',
      `unknown scheduler "${name}"; use one of ${SCHEDULER_NAMES.join(', ')} or ${Object.keys(BY_CLASS).join(', ')}`,
    );
  }
  assertSamplerFitsModel(name, FLOW_MATCHING.has(make), config);
  return make(config, context);
}

export {
  DdimScheduler,
  DeisMultistepScheduler,
  DpmSolverMultistepScheduler,
  DpmSolverSinglestepScheduler,
  EulerAncestralScheduler,
  EulerDiscreteScheduler,
  FlowMatchEulerDiscreteScheduler,
  HeunDiscreteScheduler,
  KDpm2AncestralDiscreteScheduler,
  KDpm2DiscreteScheduler,
  LcmScheduler,
  LmsDiscreteScheduler,
  PndmScheduler,
  UniPcMultistepScheduler,
};
