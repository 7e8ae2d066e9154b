/**
 * The ranges every frontend shares. They follow the hosted Stable Diffusion APIs so a request that
 * works there works here; error messages quote these numbers, so change them here only.
 */
export const SIDE_MIN = 320;
export const SIDE_MAX = 1536;
export const SIDE_STEP = 64;

/** Largest seed: `Number.MAX_SAFE_INTEGER`, the largest whole number JSON and JS carry exactly. */
export const SEED_MAX = Number.MAX_SAFE_INTEGER;

export const COUNT_MIN = 1;
/** Images of a chat request: the grid and its U1-U4 / V1-V4 buttons hold four. */
export const COUNT_MAX = 4;
/**
 * Images of an API request: OpenAI's `n` and segmind's `samples` go to 10. The engine renders them
 * COUNT_MAX at a time (generate-pictures), so memory stays that of a chat request.
 */
export const API_COUNT_MAX = 10;

/** `--repeat N`: how many jobs of one prompt. */
export const REPEAT_MAX = 4;

export const GUIDANCE_MIN = 0;
export const GUIDANCE_MAX = 20;

export const STRENGTH_MIN = 0;
export const STRENGTH_MAX = 1;

/** Characters (code points) of a prompt or negative prompt. */
export const PROMPT_MAX_CHARS = 2000;

/** The aspect ratios a member may ask for; sizes come from the model's native resolution. */
export const ASPECT_RATIOS = ['1:1', '16:9', '9:16', '2:3', '3:2', '4:5', '5:4', '21:9', '9:21'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

/** An image to upscale may have any size (it was uploaded, not rendered), within these sides. */
export const UPSCALE_INPUT_MIN = 64;
export const UPSCALE_INPUT_MAX = SIDE_MAX;
export const UPSCALE_FACTORS = [2, 4] as const;
export const ZOOM_OUT_FACTORS = [1.5, 2] as const;
/** How far a pan grows the canvas in its direction (Midjourney's Pan: half the picture again). */
export const PAN_FACTOR = 1.5;

/** Frames of a clip (`--video N`), frames a second of playback (`--fps`) and its default. */
export const VIDEO_FRAMES_MIN = 8;
export const VIDEO_FRAMES_MAX = 48;
export const VIDEO_FPS_MIN = 1;
export const VIDEO_FPS_MAX = 30;
export const VIDEO_FPS_DEFAULT = 8;
/** How much a drift frame redraws of the last one (its img2img strength): it also sets the frame's price. */
export const VIDEO_DRIFT_STRENGTH = 0.45;
/** Frames of a clip asked for through the API without `num_frames` (modelslab's default). */
export const TEXT2VIDEO_DEFAULT_FRAMES = 16;

/** LoRAs in one request, and how far a strength may go (A1111 users write 0.1–1.5, negatives undo). */
export const LORAS_MAX = 5;
export const LORA_STRENGTH_LIMIT = 4;
/** Embeddings a request may name explicitly (`embeddings_model`). */
export const EMBEDDINGS_MAX = 5;

/** AUTOMATIC1111's "Clip skip": 1 is the last layer, 2 the one before, … */
export const CLIP_SKIP_MIN = 1;
export const CLIP_SKIP_MAX = 12;

/** The hi-res fix: how far it enlarges, the largest side it makes, A1111's default denoising. */
export const HIRES_SCALE_MIN = 1;
export const HIRES_SCALE_MAX = 4;
export const HIRES_SIDE_MAX = 2048;
export const HIRES_DENOISE_DEFAULT = 0.7;
