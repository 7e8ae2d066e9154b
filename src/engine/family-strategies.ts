import type { ModelFamily } from '../models/model-family.ts';

/**
 * What differs between the model families, as data: which output of each text encoder the
 * pipeline reads, which of them give a pooled embedding, the denoiser's tensor names, and the VAE's
 * default factors. How the encoded text becomes the denoiser's inputs is `combineConditioning`
 * (text-conditioning.ts); everything else (the denoising loop, modes, seeds, screening) is shared
 * and knows no family.
 */
export interface FamilyStrategy {
  /**
   * Per text encoder (in the layout's order): `last` reads `last_hidden_state`; `penultimate` reads
   * `hidden_states.N` one before the last layer, as diffusers' SDXL and SD3 pipelines do
   * (`prompt_embeds.hidden_states[-(clip_skip + 2)]` with clip_skip None).
   */
  hiddenLayers: readonly ('last' | 'penultimate')[];
  /** Per text encoder: whether its pooled embedding is used (`text_embeds`, else `pooler_output`). */
  pooled: readonly boolean[];
  /** Per text encoder: the token window when the encoder's input does not fix one (T5: 256 in SD3). */
  maxTokens: readonly number[];
  /** The denoiser's latent input and output names. */
  sampleInput: 'sample' | 'hidden_states';
  output: 'out_sample' | 'out_hidden_states';
  /** The denoiser's inputs besides the latents and the timestep, all produced by the conditioning. */
  conditioningInputs: readonly string[];
  /** diffusers' VAE defaults when vae config.json has none (AutoencoderKL's, SDXL's, SD3's). */
  scalingFactor: number;
  shiftFactor: number;
  /** Latent channels when nothing in the folder says (4, or 16 for SD3). */
  latentChannels: number;
}

const CLIP = { sampleInput: 'sample', output: 'out_sample', shiftFactor: 0, latentChannels: 4 } as const;

export const FAMILY_STRATEGIES: Record<ModelFamily, FamilyStrategy> = {
  sd1: {
    ...CLIP,
    hiddenLayers: ['last'],
    pooled: [false],
    maxTokens: [77],
    conditioningInputs: ['encoder_hidden_states'],
    scalingFactor: 0.18215,
  },
  // SD 2's OpenCLIP-H was converted without its last layer, so last_hidden_state is already the
  // penultimate one (diffusers' StableDiffusionPipeline reads prompt_embeds[0] for both).
  sd2: {
    ...CLIP,
    hiddenLayers: ['last'],
    pooled: [false],
    maxTokens: [77],
    conditioningInputs: ['encoder_hidden_states'],
    scalingFactor: 0.18215,
  },
  sdxl: {
    ...CLIP,
    hiddenLayers: ['penultimate', 'penultimate'],
    pooled: [false, true],
    maxTokens: [77, 77],
    conditioningInputs: ['encoder_hidden_states', 'text_embeds', 'time_ids'],
    scalingFactor: 0.13025,
  },
  'sdxl-refiner': {
    ...CLIP,
    hiddenLayers: ['penultimate'],
    pooled: [true],
    maxTokens: [77],
    conditioningInputs: ['encoder_hidden_states', 'text_embeds', 'time_ids'],
    scalingFactor: 0.13025,
  },
  sd3: {
    hiddenLayers: ['penultimate', 'penultimate', 'last'],
    pooled: [true, true, false],
    maxTokens: [77, 77, 256],
    sampleInput: 'hidden_states',
    output: 'out_hidden_states',
    conditioningInputs: ['encoder_hidden_states', 'pooled_projections'],
    scalingFactor: 1.5305,
    shiftFactor: 0.0609,
    latentChannels: 16,
  },
};
