/**
 * The platform-neutral request every frontend (Discord, Slack, REST, CLI) produces and the
 * engine renders. Produced only by `validateRequest` in this folder, so every field is in range.
 */
export const SAMPLERS = [
  'euler',
  'euler_a',
  'ddim',
  'dpmpp_2m',
  'dpmpp_2m_karras',
  'lcm',
  'pndm',
  'heun',
  'lms',
  'lms_karras',
  'dpm_single',
  'dpm_single_karras',
  'dpm2',
  'dpm2_karras',
  'dpm2_a',
  'dpm2_a_karras',
  'unipc',
  'deis',
  'dpmpp_2m_sde',
  'dpmpp_2m_sde_karras',
  'flow_euler',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/**
 * diffusers' scheduler classes. Named exactly so in a request, the class runs with the model's own
 * `scheduler_config.json` as given (its sigma options, solver order, algorithm), where easel's
 * names fix those to what the name promises ("dpmpp_2m_karras" is Karras whatever the model says).
 */
export const DIFFUSERS_SCHEDULER_CLASSES = [
  'DDIMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'DPMSolverMultistepScheduler',
  'LCMScheduler',
  'PNDMScheduler',
  'HeunDiscreteScheduler',
  'LMSDiscreteScheduler',
  'DPMSolverSinglestepScheduler',
  'KDPM2DiscreteScheduler',
  'KDPM2AncestralDiscreteScheduler',
  'UniPCMultistepScheduler',
  'DEISMultistepScheduler',
  'FlowMatchEulerDiscreteScheduler',
] as const;
export type DiffusersSchedulerClass = (typeof DIFFUSERS_SCHEDULER_CLASSES)[number];

/** What a request may ask to sample with: one of easel's samplers, or a diffusers class as given. */
export type SamplerChoice = SamplerName | DiffusersSchedulerClass;

export type GenerationMode = 'txt2img' | 'img2img' | 'inpaint' | 'outpaint' | 'variation' | 'upscale';

export type PanDirection = 'left' | 'right' | 'up' | 'down';

/** A region in percent of the image (0-100), for inpainting from chat, where no mask can be drawn. */
export interface RegionPercent {
  x: number;
  y: number;
  w: number;
  h: number;
  /** Repaint everything outside the rectangle instead (the `background` preset). */
  invert?: boolean;
}

/** An image the request refers to: stored in the artifact store before admission. */
export interface ImageRef {
  artifactId: string;
}

/**
 * How the hi-res fix enlarges the first pass: in latent space (A1111's "Latent", bilinear, or
 * "Latent (nearest)"), with Lanczos on the decoded picture, or with the installed upscaler network
 * (Real-ESRGAN in MODELS_DIR, else the built-in ESRGAN; Lanczos when UPSCALER=lanczos).
 */
export const HIRES_UPSCALERS = ['latent', 'latent-nearest', 'lanczos', 'upscaler'] as const;
export type HiresUpscaler = (typeof HIRES_UPSCALERS)[number];

/** AUTOMATIC1111's hi-res fix: render at `width` x `height`, enlarge, then img2img at the target size. */
export interface HiresFix {
  scale: number;
  /** The final size: the first pass's times `scale`, to the side step. */
  width: number;
  height: number;
  /** Steps of the second pass (A1111's hr_second_pass_steps; 0 there means the first pass's). */
  steps: number;
  /** The second pass's denoising strength. */
  denoise: number;
  upscaler: HiresUpscaler;
}

/** A LoRA a request applies, by its name in MODELS_DIR/loras (without `.safetensors`). */
export interface LoraChoice {
  name: string;
  strength: number;
}

export interface GenerationRequest {
  mode: GenerationMode;
  prompt: string;
  negativePrompt: string;
  /** Registry id (aliases already resolved). */
  model: string;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  sampler: SamplerChoice;
  /** The seed actually used: never 0 (0 or absent in the input means random, drawn by the validator). */
  seed: number;
  /** Images in this request, 1-4. */
  count: number;
  /** img2img / variation / inpaint denoising strength, 0..1. */
  strength?: number;
  initImage?: ImageRef;
  maskImage?: ImageRef;
  region?: RegionPercent;
  zoomOut?: 1.5 | 2;
  /** Outpaint one side instead of all four (Midjourney's Pan): the canvas grows 1.5x that way. */
  pan?: PanDirection;
  upscale?: 2 | 4;
  /**
   * LoRAs merged into the model for this job, in the order the member named them. Jobs can share a
   * batch only when these (names and strengths), `embeddings` and `clipSkip` are the same.
   */
  loras?: LoraChoice[];
  /** Embeddings named explicitly (`embeddings_model`); those the prompt names are found by the worker. */
  embeddings?: string[];
  /** AUTOMATIC1111's clip skip, 2–12 (1, the default, is left out). */
  clipSkip?: number;
  /** txt2img only: `width` x `height` is the first pass, `hires.width` x `hires.height` the picture. */
  hires?: HiresFix;
  /** When a button made this request: the job and image (0-based) it acts on. */
  source?: { jobId: string; index: number };
  /** A short clip instead of still pictures (txt2img only, one clip: `count` is 1). */
  video?: VideoRequest;
}

/**
 * How the frames of a clip move: `walk` interpolates the starting noise between neighbouring seeds
 * (spherically), `morph` interpolates the prompt's conditioning towards `to` on one seed's noise,
 * `drift` renders each frame as an img2img of the last one, zoomed in a little.
 */
export const VIDEO_MODES = ['walk', 'morph', 'drift'] as const;
export type VideoMode = (typeof VIDEO_MODES)[number];

export interface VideoRequest {
  /** Frames in the clip (VIDEO_FRAMES_MIN..MAX). */
  frames: number;
  /** Frames a second of playback. */
  fps: number;
  /** The clip ends where it began (walk returns to the first seed, morph comes back), so it repeats seamlessly. */
  loop: boolean;
  mode: VideoMode;
  /** The second prompt of a morph. */
  to?: string;
}
