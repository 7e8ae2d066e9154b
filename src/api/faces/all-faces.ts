import type { Face } from '../operations/face.ts';
import { a1111Face } from './a1111.ts';
import { aithrivingFace } from './aithriving.ts';
import { easelFace } from './easel.ts';
import { imagepipelineFace } from './imagepipeline.ts';
import { modelslabFace } from './modelslab.ts';
import { openAiFace } from './openai.ts';
import { segmindFace } from './segmind.ts';

/**
 * Every face the server carries, in registration order (one line each). A path belongs to exactly
 * one face: Fastify refuses a second route on the same method and path at start.
 */
export const FACES: readonly Face[] = [
  easelFace,
  modelslabFace,
  aithrivingFace,
  imagepipelineFace,
  segmindFace,
  a1111Face,
  openAiFace,
];
