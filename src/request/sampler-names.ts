import { DIFFUSERS_SCHEDULER_CLASSES, SAMPLERS, type SamplerChoice, type SamplerName } from './types.ts';

/**
 * Sampler names as members and API clients write them. The hosted APIs and AUTOMATIC1111 use
 * display names ("Euler a", "DPM++ 2M Karras"), diffusers its class names
 * ("EulerAncestralDiscreteScheduler"), k-diffusion `k_`-prefixed ones; all map to easel's names.
 * Keys are normalized: lower case, letters and digits only ("DPM++ 2M" -> "dpm2m").
 */
const ALIASES: Record<string, SamplerName> = {
  euler: 'euler',
  eulerdiscrete: 'euler',
  eulerdiscretescheduler: 'euler',
  keuler: 'euler',
  eulera: 'euler_a',
  eulerancestral: 'euler_a',
  eulerancestraldiscrete: 'euler_a',
  eulerancestraldiscretescheduler: 'euler_a',
  keulerancestral: 'euler_a',
  ddim: 'ddim',
  ddimscheduler: 'ddim',
  dpmpp2m: 'dpmpp_2m',
  dpm2m: 'dpmpp_2m',
  dpmmulti: 'dpmpp_2m',
  dpmmultistep: 'dpmpp_2m',
  dpmsolvermultistep: 'dpmpp_2m',
  dpmsolvermultistepscheduler: 'dpmpp_2m',
  kdpmpp2m: 'dpmpp_2m',
  dpmpp2mkarras: 'dpmpp_2m_karras',
  dpm2mkarras: 'dpmpp_2m_karras',
  kdpmpp2mkarras: 'dpmpp_2m_karras',
  dpmmultikarras: 'dpmpp_2m_karras',
  lcm: 'lcm',
  lcmscheduler: 'lcm',
  pndm: 'pndm',
  pndmscheduler: 'pndm',
  plms: 'pndm',
  heun: 'heun',
  heundiscrete: 'heun',
  heundiscretescheduler: 'heun',
  kheun: 'heun',
  lms: 'lms',
  lmsdiscrete: 'lms',
  lmsdiscretescheduler: 'lms',
  klms: 'lms',
  lmskarras: 'lms_karras',
  klmskarras: 'lms_karras',
  dpmsingle: 'dpm_single',
  dpmsinglestep: 'dpm_single',
  dpmsolversinglestep: 'dpm_single',
  dpmsolversinglestepscheduler: 'dpm_single',
  dpmsinglekarras: 'dpm_single_karras',
  dpm2: 'dpm2',
  kdpm2: 'dpm2',
  kdpm2discrete: 'dpm2',
  kdpm2discretescheduler: 'dpm2',
  dpm2karras: 'dpm2_karras',
  kdpm2karras: 'dpm2_karras',
  dpm2a: 'dpm2_a',
  dpm2ancestral: 'dpm2_a',
  kdpm2a: 'dpm2_a',
  kdpm2ancestral: 'dpm2_a',
  kdpm2ancestraldiscrete: 'dpm2_a',
  kdpm2ancestraldiscretescheduler: 'dpm2_a',
  dpm2akarras: 'dpm2_a_karras',
  kdpm2akarras: 'dpm2_a_karras',
  kdpm2ancestralkarras: 'dpm2_a_karras',
  unipc: 'unipc',
  unipcmultistep: 'unipc',
  unipcmultistepscheduler: 'unipc',
  deis: 'deis',
  deismultistep: 'deis',
  deismultistepscheduler: 'deis',
  dpmpp2msde: 'dpmpp_2m_sde',
  dpm2msde: 'dpmpp_2m_sde',
  kdpmpp2msde: 'dpmpp_2m_sde',
  dpmpp2msdekarras: 'dpmpp_2m_sde_karras',
  dpm2msdekarras: 'dpmpp_2m_sde_karras',
  kdpmpp2msdekarras: 'dpmpp_2m_sde_karras',
  floweuler: 'flow_euler',
  flowmatch: 'flow_euler',
  flowmatcheuler: 'flow_euler',
  flowmatcheulerdiscrete: 'flow_euler',
  flowmatcheulerdiscretescheduler: 'flow_euler',
};

/**
 * The samplers for flow-matching models (Stable Diffusion 3): their model predicts a velocity, not
 * noise, so these and the others are not interchangeable.
 */
export const FLOW_MATCHING_SAMPLERS: readonly SamplerChoice[] = [
  'flow_euler',
  'FlowMatchEulerDiscreteScheduler',
];

export function isFlowMatchingSampler(sampler: SamplerChoice): boolean {
  return FLOW_MATCHING_SAMPLERS.includes(sampler);
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * The sampler a name means, or undefined when unknown: a diffusers class name spelled exactly stays
 * that class (the model's scheduler config used as given); any other name or alias, in any case
 * and spacing, is one of easel's samplers.
 */
export function resolveSampler(name: string): SamplerChoice | undefined {
  const trimmed = name.trim();
  const diffusersClass = DIFFUSERS_SCHEDULER_CLASSES.find((c) => c === trimmed);
  if (diffusersClass) return diffusersClass;
  const exact = SAMPLERS.find((s) => s === trimmed.toLowerCase());
  return exact ?? ALIASES[normalize(name)];
}

/** For messages: the names and a few of the aliases members are likely to try. */
export const SAMPLER_HELP = `one of ${SAMPLERS.join(', ')} (hosted names such as "Euler a", "DPM++ 2M SDE Karras", "DPM2 a Karras", "DPM Single", "UniPC" or "EulerAncestralDiscreteScheduler" work too; Stable Diffusion 3 models sample with flow_euler)`;
