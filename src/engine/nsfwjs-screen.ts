import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import type { Config } from '../config/schema.ts';
import { alignCornersResize } from './align-corners-resize.ts';
import type { RgbImage } from './image-io.ts';
import type { NsfwScreen } from './nsfw-screen.ts';
import { outputOf, runPart } from './onnx-io.ts';
import { NSFWJS_CLASSES, NSFWJS_SIZE } from './tfjs/npm-networks.ts';

export type NsfwjsClass = (typeof NSFWJS_CLASSES)[number];
export type NsfwjsProbabilities = Record<NsfwjsClass, number>;

/** A picture counts as NSFW when any of these classes reaches its threshold (NSFW_*_THRESHOLD). */
export interface NsfwjsThresholds {
  porn: number;
  hentai: number;
  sexy: number;
}

export function nsfwjsThresholds(config: Config): NsfwjsThresholds {
  return {
    porn: config.NSFW_PORN_THRESHOLD,
    hentai: config.NSFW_HENTAI_THRESHOLD,
    sexy: config.NSFW_SEXY_THRESHOLD,
  };
}

const PART = 'nsfwjs-mobilenet-v2';

/** nsfwjs's class probabilities for one picture, from the converted MobileNetV2. */
export async function nsfwjsProbabilities(
  session: InferenceSession,
  image: RgbImage,
): Promise<NsfwjsProbabilities> {
  const pixels = alignCornersResize(image, NSFWJS_SIZE);
  const result = await runPart(session, PART, {
    input: new Tensor('float32', pixels, [1, NSFWJS_SIZE, NSFWJS_SIZE, 3]),
  });
  const data = outputOf(result, PART, 'probabilities').data;
  return Object.fromEntries(
    NSFWJS_CLASSES.map((name, i) => [name, Number(data[i] ?? 0)]),
  ) as NsfwjsProbabilities;
}

/** Screens with nsfwjs: flagged when porn, hentai or sexy reaches its threshold; score = their sum. */
export function nsfwjsScreen(session: InferenceSession, thresholds: NsfwjsThresholds): NsfwScreen {
  return async (image) => {
    const p = await nsfwjsProbabilities(session, image);
    const nsfw = p.porn >= thresholds.porn || p.hentai >= thresholds.hentai || p.sexy >= thresholds.sexy;
    return { nsfw, score: Math.round((p.porn + p.hentai + p.sexy) * 1e4) / 1e4 };
  };
}
