import { CodedError } from '../../errors/coded-error.ts';
import { VIDEO_DRIFT_STRENGTH } from '../../request/limits.ts';
import type { GenerationRequest, VideoRequest } from '../../request/types.ts';
import { RenderCancelled } from '../denoise.ts';
import type { DiffusionModel } from '../diffusion-model.ts';
import { type FrameConditioning, type GenerateOptions, generatePictures } from '../generate-pictures.ts';
import type { RgbImage } from '../image-io.ts';
import { seededNormal } from '../seeded-noise.ts';
import { encodeText, type TextConditioning } from '../text-conditioning.ts';
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

function framePlan(
  still: GenerationRequest,
  video: VideoRequest,
): (index: number, last: RgbImage | undefined) => Promise<FrameStep> {
  switch (video.mode) {
    case 'walk': {
      const positions = walkPositions(still.seed, video.frames, video.loop);
      return async (i) => {
        const { from, to, t } = positions[i]!;
        return {
          request: still,
          frame: {
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
      const target = video.to ?? still.prompt;
      // Both prompts are encoded once per model (a refiner encodes with its own encoders).
      const encoded = new Map<DiffusionModel, Promise<[TextConditioning, TextConditioning]>>();
      return async (i) => ({
        request: still,
        frame: {
          text: async (model, size) => {
            let pair = encoded.get(model);
            if (pair === undefined) {
              pair = Promise.all([
                encodeText(model, still.prompt, still.negativePrompt, size),
                encodeText(model, target, still.negativePrompt, size),
              ]);
              encoded.set(model, pair);
            }
            const [a, b] = await pair;
            return blendConditioning(a, b, weights[i]!);
          },
        },
      });
    }
    case 'drift':
      return async (i, last) => {
        if (i === 0 || last === undefined) return { request: still, frame: {} };
        return {
          // Each frame its own seed: the same noise on every frame would print one grain pattern through the zoom.
          request: {
            ...still,
            mode: 'img2img',
            strength: VIDEO_DRIFT_STRENGTH,
            seed: still.seed + i,
            initImage: { artifactId: 'previous-frame' },
          },
          frame: {},
          previous: await zoomedPng(last, DRIFT_ZOOM),
        };
      };
    default:
      throw new CodedError('engine-failed', `unknown video mode ${String(video.mode)}`);
  }
}
