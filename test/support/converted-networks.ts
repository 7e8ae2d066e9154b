import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuiltinSettings } from '../../src/engine/model-store.ts';

/**
 * One cache of converted npm networks for every test file: conversions are keyed by the package's
 * files and the converter's revision, so files converted by an earlier run or another file are reused.
 */
export const CONVERTED_CACHE_DIR = join(tmpdir(), 'easel-test-converted-networks');

/** The defaults a fresh install runs with: nsfwjs's classifier and ESRGAN slim. */
export const DEFAULT_BUILTINS: BuiltinSettings = {
  classifier: 'nsfwjs-mobilenet-v2',
  upscaler: 'esrgan-slim',
  cacheDir: CONVERTED_CACHE_DIR,
};
