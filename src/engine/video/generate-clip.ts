import { CodedError } from '../../errors/coded-error.ts';
import { VIDEO_DRIFT_STRENGTH } from '../../request/limits.ts';
import type { GenerationRequest, VideoRequest } from '../../request/types.ts';
import { RenderCancelled } from '../denoise.ts';
import type { DiffusionModel } from '../diffusion-model.ts';
import { type FrameConditioning, type GenerateOptions, generatePictures } from '../generate-pictures.ts';
import type { RgbImage } from '../image-io.ts';
import { seededNormal } from '../seeded-noise.ts';
import { encodeText, type RenderSize, type TextConditioning } from '../text-conditioning.ts';
import { blendConditioning } from './conditioning-blend.ts';
import { morphWeights, walkPositions } from './frame-plan.ts';
import { slerp } from './slerp.ts';
import { zoomedPng } from './zoom-frame.ts';

/** How far a drift zooms in each frame. */
export const DRIFT_ZOOM = 1.04;

export interface GeneratedClip {
  /** At display size, in playing order. */
  frames: RgbImage[];
  provider: string;
  loadMs: number;
  truncatedWords: string[];
  model: DiffusionModel | undefined;
}

export interface ClipOptions extends Omit<GenerateOptions, 'onProgress' | 'frame'> {
  /** After each finished frame. */
  onFrame?: (done: number, total: number) => void;
}

/** Cancelled between (or during) frames; says how many were finished, so the rest can be refunded. */
export class ClipCancelled extends RenderCancelled {
  constructor(readonly framesDone: number) {
    super(`render cancelled after ${framesDone} frames`);
  }
}

/**
 * Renders a clip as one picture render per frame: the frames share the request's seed (or walk
 * between neighbouring seeds) so neighbours are alike, and the same request gives the same clip.
 * Frames are rendered one at a time so progress is per frame and a cancel stops between frames.
 */
export async function generateClip(request: GenerationRequest, options: ClipOptions): Promise<GeneratedClip> {
  const video = request.video;
  if (video === undefined) throw new CodedError('engine-failed', 'generateClip needs a video request');
  const still: GenerationRequest = { ...request, count: 1 };
  delete still.video;
  const frames: RgbImage[] = [];
  let provider = '';
  let loadMs = 0;
  let truncatedWords: string[] = [];
  let model: DiffusionModel | undefined;
  const plan = framePlan(still, video);
  for (let i = 0; i < video.frames; i++) {
    if (options.signal?.aborted) throw new ClipCancelled(i);
    const step = await plan(i, frames[i - 1]);
    const frameOptions: GenerateOptions = { ...options, frame: step.frame };
    if (step.previous !== undefined) {
      const previous = step.previous;
      frameOptions.images = { load: async () => previous };
    }
    let out: Awaited<ReturnType<typeof generatePictures>>;
    try {
      out = await generatePictures(step.request, frameOptions);
    } catch (error) {
      if (error instanceof RenderCancelled) throw new ClipCancelled(i);
      throw error;
    }
    frames.push(out.pictures[0]!);
    if (i === 0) {
      provider = out.provider;
      loadMs = out.loadMs;
      truncatedWords = out.truncatedWords;
      model = out.model;
    }
    options.onFrame?.(i + 1, video.frames);
  }
  return { frames, provider, loadMs, truncatedWords, model };
}

interface FrameStep {
  request: GenerationRequest;
  frame: FrameConditioning;
  /** A drift frame's starting picture (the last frame, zoomed), as image bytes. */
  previous?: Buffer;
}

/**
 * The prompts' conditioning, encoded once per model for the whole clip (every frame of a walk or a
 * drift has the same; a morph blends two), rather than once per frame.
 */
function conditioningOnce(prompts: string[], negativePrompt: string) {
  const encoded = new Map<DiffusionModel, Promise<TextConditioning[]>>();
  return (model: DiffusionModel, size: RenderSize): Promise<TextConditioning[]> => {
    let all = encoded.get(model);
    if (all === undefined) {
      all = Promise.all(prompts.map((p) => encodeText(model, p, negativePrompt, size)));
      encoded.set(model, all);
    }
    return all;
  };
}

function framePlan(
  still: GenerationRequest,
  video: VideoRequest,
): (index: number, last: RgbImage | undefined) => Promise<FrameStep> {
  const prompt = conditioningOnce([still.prompt], still.negativePrompt);
  const text = async (model: DiffusionModel, size: RenderSize) => (await prompt(model, size))[0]!;
  switch (video.mode) {
    case 'walk': {
      const positions = walkPositions(still.seed, video.frames, video.loop);
      return async (i) => {
        const { from, to, t } = positions[i]!;
        return {
          request: still,
          frame: {
            text,
            startNoise: (c, h, w) => {
              const a = seededNormal(from, 0, c * h * w);
              return t === 0 ? a : slerp(a, seededNormal(to, 0, c * h * w), t);
            },
          },
        };
      };
    }
    case 'morph': {
      const weights = morphWeights(video.frames, video.loop);
      const both = conditioningOnce([still.prompt, video.to ?? still.prompt], still.negativePrompt);
      return async (i) => ({
        request: still,
        frame: {
          text: async (model, size) => {
            const [a, b] = await both(model, size);
            return blendConditioning(a!, b!, weights[i]!);
          },
        },
      });
    }
    case 'drift':
      return async (i, last) => {
        if (i === 0 || last === undefined) return { request: still, frame: { text } };
        return {
          // Each frame its own seed: the same noise on every frame would print one grain pattern through the zoom.
          request: {
            ...still,
            mode: 'img2img',
            strength: VIDEO_DRIFT_STRENGTH,
            seed: still.seed + i,
            initImage: { artifactId: 'previous-frame' },
          },
          frame: { text },
          previous: await zoomedPng(last, DRIFT_ZOOM),
        };
      };
    default:
      throw new CodedError('engine-failed', `unknown video mode ${String(video.mode)}`);
  }
}
