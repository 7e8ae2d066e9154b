import type { Config } from '../config/schema.ts';
import { VIDEO_DRIFT_STRENGTH } from '../request/limits.ts';
import type { GenerationRequest } from '../request/types.ts';

/** Credit prices, from configuration (CREDITS_*); admins may override them per scope. */
export interface CreditRates {
  /** A 512x512 image at 25 steps. */
  perImage: number;
  upscale2x: number;
  upscale4x: number;
  /** One zoomed-out (outpainted) image. */
  zoomOut: number;
}

export function ratesFromConfig(
  config: Pick<
    Config,
    'CREDITS_PER_IMAGE' | 'CREDITS_UPSCALE_2X' | 'CREDITS_UPSCALE_4X' | 'CREDITS_ZOOM_OUT'
  >,
): CreditRates {
  return {
    perImage: config.CREDITS_PER_IMAGE,
    upscale2x: config.CREDITS_UPSCALE_2X,
    upscale4x: config.CREDITS_UPSCALE_4X,
    zoomOut: config.CREDITS_ZOOM_OUT,
  };
}

/** The work `perImage` buys: one 512x512 image at 25 steps. */
const REFERENCE_WORK = 512 * 512 * 25;

/** Float products such as 3 x 1.1 land a hair above a whole number; that hair must not cost a credit. */
const ROUNDING_SLACK = 1e-9;

export type CostedRequest = Pick<
  GenerationRequest,
  'mode' | 'width' | 'height' | 'steps' | 'count' | 'strength' | 'upscale' | 'zoomOut' | 'video' | 'hires'
>;

/**
 * How many pictures' worth of rendering a clip is: one per frame, except that a drift's frames after
 * the first redraw only `VIDEO_DRIFT_STRENGTH` of the last one, as an img2img of that strength does.
 */
function clipPictures(video: NonNullable<CostedRequest['video']>): number {
  return video.mode === 'drift' ? 1 + (video.frames - 1) * VIDEO_DRIFT_STRENGTH : video.frames;
}

/**
 * Credits a request costs: proportional to pixels x steps x images (a clip: x frames) for rendering (img2img,
 * variation and inpaint run only `strength` of their steps, so they cost that share; the hi-res
 * fix's second pass adds its own pixels x steps x denoising strength); upscale and
 * zoom out have flat rates per image. Rounded up to a whole credit, at least 1, except that a rate
 * an operator set to 0 makes that kind of request free.
 *
 * Pixels are display pixels (`width` x `height` as asked), not the pixels the model renders: a model
 * with renderScale 16 renders 1/256 of them and is scaled up for display, but a member is charged
 * for what they asked for, so the price does not depend on which model happens to be cheap to run.
 */
export function computeCost(request: CostedRequest, rates: CreditRates): number {
  let exact: number;
  let rate: number;
  switch (request.mode) {
    case 'upscale':
      rate = request.upscale === 4 ? rates.upscale4x : rates.upscale2x;
      exact = rate * request.count;
      break;
    case 'outpaint':
      rate = rates.zoomOut;
      exact = rate * request.count;
      break;
    default: {
      rate = rates.perImage;
      const share = request.mode === 'txt2img' ? 1 : (request.strength ?? 1);
      let work = request.width * request.height * request.steps * share;
      // The hi-res fix's second pass runs its denoising share of its steps at the target size.
      const hires = request.hires;
      if (hires !== undefined) work += hires.width * hires.height * hires.steps * hires.denoise;
      const pictures = request.video !== undefined ? clipPictures(request.video) : request.count;
      exact = (rate * work * pictures) / REFERENCE_WORK;
    }
  }
  if (rate === 0) return 0;
  return Math.max(1, Math.ceil(exact - ROUNDING_SLACK));
}
