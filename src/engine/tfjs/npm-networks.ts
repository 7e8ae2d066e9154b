import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CodedError } from '../../errors/coded-error.ts';
import type { GraphEnds } from './keras-layers-to-onnx.ts';

/** A network shipped as a TF.js layers model inside an npm package, and how easel feeds it. */
export interface NpmNetwork {
  /** Names the cached conversion and log lines. */
  id: string;
  packageName: string;
  /** The version the definition was written against; another one is refused (its files may differ). */
  version: string;
  /** The model folder inside the package. */
  folder: string;
  ends: GraphEnds;
}

/** nsfwjs's classes, in the order of the network's outputs (nsfwjs's NSFW_CLASSES). */
export const NSFWJS_CLASSES = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'] as const;
export const NSFWJS_SIZE = 224;

/**
 * nsfwjs's MobileNetV2 classifier. Pinned at 4.3.0: 4.4.0 ships the same model files byte for byte
 * but declares `engines: { node: "22.13.0" }`, which makes npm warn on every install under Node 20.
 * Input: NHWC pixels in [0, 1] at 224x224 (nsfwjs divides by 255); output: softmax probabilities.
 */
export const NSFWJS_MOBILENET_V2: NpmNetwork = {
  id: 'nsfwjs-mobilenet-v2',
  packageName: 'nsfwjs',
  version: '4.3.0',
  folder: 'dist/models/mobilenet_v2',
  ends: {
    input: { name: 'input', layout: 'NHWC', dims: ['batch', NSFWJS_SIZE, NSFWJS_SIZE, 3] },
    output: { name: 'probabilities', dims: ['batch', NSFWJS_CLASSES.length] },
  },
};

export const ESRGAN_SIZES = ['slim', 'medium', 'thick'] as const;
export type EsrganSize = (typeof ESRGAN_SIZES)[number];

/**
 * UpscalerJS's ESRGAN at 2x or 4x, fed and answering in the Real-ESRGAN layout every easel upscaler
 * uses (NCHW in [0, 1]). Slim and medium are RDN networks trained on 0-255 pixels (their model
 * definition's inputRange), so the graph scales by 255 on the way in and back on the way out; thick
 * (RRDN) works in [0, 1].
 */
export function esrganNetwork(size: EsrganSize, scale: 2 | 4): NpmNetwork {
  const pixels255 = size !== 'thick';
  const ends: GraphEnds = {
    input: { name: 'input', layout: 'NCHW', dims: ['batch', 3, 'height', 'width'] },
    output: { name: 'output', dims: ['batch', 3, 'out_height', 'out_width'] },
  };
  if (pixels255) {
    ends.inputScale = 255;
    ends.outputScale = 1 / 255;
  }
  return {
    id: `esrgan-${size}-x${scale}`,
    packageName: `@upscalerjs/esrgan-${size}`,
    version: '1.0.0',
    folder: `models/x${scale}`,
    ends,
  };
}

/**
 * The network's folder inside its package: in `packagesDir` when given (a node_modules folder), else
 * found the way Node resolves packages from easel's own install (the packages' exports maps aside).
 */
export function packageDir(network: NpmNetwork, packagesDir?: string): { dir: string; version: string } {
  const candidates =
    packagesDir !== undefined
      ? [packagesDir]
      : (createRequire(import.meta.url).resolve.paths(network.packageName) ?? []);
  for (const base of candidates) {
    const dir = join(base, network.packageName);
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    let version: unknown;
    try {
      version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version;
    } catch {
      throw new CodedError('model-invalid', `${network.id}: ${manifest} is not valid JSON`);
    }
    if (version !== network.version) {
      throw new CodedError(
        'model-invalid',
        `${network.id}: ${network.packageName} ${String(version)} is installed; easel's converter was checked against ${network.version} (npm install ${network.packageName}@${network.version})`,
      );
    }
    return { dir: join(dir, network.folder), version: network.version };
  }
  throw new CodedError(
    'model-missing',
    `${network.id}: the npm package ${network.packageName} is not installed (npm install ${network.packageName}@${network.version})`,
  );
}
