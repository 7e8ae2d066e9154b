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
  clipSkip?: number;
  /** Written back into the prompt as `<lora:name:strength>`, and hashed in `Lora hashes`. */
  loras?: { name: string; strength: number; hash: string }[];
  /** The embeddings the prompts used (`TI hashes`). */
  embeddings?: { name: string; hash: string }[];
  extra?: Record<string, string | number>;
}

/** A1111 drops these from names in its hash lists, whose items are `name: hash` joined by ", ". */
function hashList(items: { name: string; hash: string }[]): string {
  return items.map(({ name, hash }) => `${name.replace(/[:,]/g, '')}: ${hash}`).join(', ');
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
  if (p.clipSkip !== undefined) pairs.push(['Clip skip', p.clipSkip]);
  for (const [k, v] of Object.entries(p.extra ?? {})) pairs.push([k, v]);
  if (p.loras !== undefined && p.loras.length > 0) pairs.push(['Lora hashes', hashList(p.loras)]);
  if (p.embeddings !== undefined && p.embeddings.length > 0)
    pairs.push(['TI hashes', hashList(p.embeddings)]);
  pairs.push(['Version', 'easel']);
  // A1111 keeps the tags in the prompt it records (they leave easel's prompt when it is read).
  const tags = (p.loras ?? []).map((l) => `<lora:${l.name}:${l.strength}>`);
  const lines = [[p.prompt, ...tags].filter((part) => part !== '').join(' ')];
  if (p.negativePrompt !== '') lines.push(`Negative prompt: ${p.negativePrompt}`);
  lines.push(pairs.map(([k, v]) => `${k}: ${quoteIfNeeded(String(v))}`).join(', '));
  return lines.join('\n');
}
