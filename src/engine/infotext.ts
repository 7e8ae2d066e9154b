import type { SamplerChoice, SamplerName } from '../request/types.ts';

/** AUTOMATIC1111's sampler names, so tools that read its infotext recognise ours. */
export const A1111_SAMPLERS: Record<SamplerName, string> = {
  euler: 'Euler',
  euler_a: 'Euler a',
  ddim: 'DDIM',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_karras: 'DPM++ 2M Karras',
  lcm: 'LCM',
  pndm: 'PLMS',
  heun: 'Heun',
  lms: 'LMS',
  lms_karras: 'LMS Karras',
  // AUTOMATIC1111 has no singlestep DPM-Solver: the hosted APIs' name.
  dpm_single: 'DPM Single',
  dpm_single_karras: 'DPM Single Karras',
  dpm2: 'DPM2',
  dpm2_karras: 'DPM2 Karras',
  dpm2_a: 'DPM2 a',
  dpm2_a_karras: 'DPM2 a Karras',
  unipc: 'UniPC',
  deis: 'DEIS',
  dpmpp_2m_sde: 'DPM++ 2M SDE',
  dpmpp_2m_sde_karras: 'DPM++ 2M SDE Karras',
  // AUTOMATIC1111 writes plain "Euler" for SD3, which would read back as the noise-prediction Euler.
  flow_euler: 'Flow Euler',
};

export interface InfotextParameters {
  prompt: string;
  negativePrompt: string;
  steps: number;
  sampler: SamplerChoice;
  guidance: number;
  seed: number;
  width: number;
  height: number;
  model: string;
  strength?: number;
  extra?: Record<string, string | number>;
}

function quoteIfNeeded(value: string): string {
  return /[,:\n"]/.test(value) ? JSON.stringify(value) : value;
}

/**
 * The `parameters` text AUTOMATIC1111 writes into its PNGs: the prompt, a `Negative prompt:` line,
 * then `Key: value` pairs separated by ", " (values with commas or colons quoted as JSON strings).
 */
export function formatInfotext(p: InfotextParameters): string {
  const pairs: [string, string | number][] = [
    ['Steps', p.steps],
    // A diffusers class used as given has no AUTOMATIC1111 name: its class name says what ran.
    ['Sampler', p.sampler in A1111_SAMPLERS ? A1111_SAMPLERS[p.sampler as SamplerName] : p.sampler],
    ['CFG scale', p.guidance],
    ['Seed', p.seed],
    ['Size', `${p.width}x${p.height}`],
    ['Model', p.model],
  ];
  if (p.strength !== undefined) pairs.push(['Denoising strength', p.strength]);
  for (const [k, v] of Object.entries(p.extra ?? {})) pairs.push([k, v]);
  pairs.push(['Version', 'easel']);
  const lines = [p.prompt];
  if (p.negativePrompt !== '') lines.push(`Negative prompt: ${p.negativePrompt}`);
  lines.push(pairs.map(([k, v]) => `${k}: ${quoteIfNeeded(String(v))}`).join(', '));
  return lines.join('\n');
}
