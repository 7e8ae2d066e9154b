import * as tf from '@tensorflow/tfjs';
import * as nsfwjs from 'nsfwjs';
import { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsfwjsProbabilities, nsfwjsScreen } from '../../src/engine/nsfwjs-screen.ts';
import { convertedNetwork } from '../../src/engine/tfjs/converted-network.ts';
import { NSFWJS_MOBILENET_V2 } from '../../src/engine/tfjs/npm-networks.ts';
import { CONVERTED_CACHE_DIR } from '../support/converted-networks.ts';
import { screeningPictures } from '../support/screening-pictures.ts';

let session: InferenceSession;
let reference: nsfwjs.NSFWJS;

beforeAll(async () => {
  const converted = await convertedNetwork(NSFWJS_MOBILENET_V2, CONVERTED_CACHE_DIR);
  session = await InferenceSession.create(converted.path, { intraOpNumThreads: 1 });
  // TF.js's pure-JS CPU backend: the reference nsfwjs itself runs on, with its own preprocessing.
  await tf.setBackend('cpu');
  reference = await nsfwjs.load('MobileNetV2');
}, 120_000);

afterAll(async () => {
  await session.release();
  reference.dispose();
});

describe('nsfwjs MobileNetV2 converted to ONNX', () => {
  it('gives the class probabilities nsfwjs gives, within 1e-3, on two dozen pictures of every kind', async () => {
    const pictures = await screeningPictures();
    expect(pictures.length).toBeGreaterThanOrEqual(20);
    let worst = 0;
    for (const { name, image } of pictures) {
      const ours = await nsfwjsProbabilities(session, image);
      const pixels = tf.tensor3d(new Int32Array(image.data), [image.height, image.width, 3], 'int32');
      const theirs = await reference.classify(pixels, 5);
      pixels.dispose();
      expect(theirs).toHaveLength(5);
      for (const { className, probability } of theirs) {
        const diff = Math.abs(ours[className.toLowerCase() as keyof typeof ours] - probability);
        worst = Math.max(worst, diff);
        expect(diff, `${name}: ${className}`).toBeLessThan(1e-3);
      }
    }
    // The conversion is exact up to float rounding: far inside the required 1e-3.
    expect(worst).toBeLessThan(1e-4);
  }, 180_000);

  it('flags a picture when one of porn, hentai or sexy reaches its threshold', async () => {
    const [first] = await screeningPictures();
    const p = await nsfwjsProbabilities(session, first!.image);
    const lenient = await nsfwjsScreen(session, { porn: 1, hentai: 1, sexy: 1 })(first!.image);
    expect(lenient.nsfw).toBe(false);
    expect(lenient.score).toBeCloseTo(p.porn + p.hentai + p.sexy, 3);
    // A threshold at the picture's own sexy probability flags it; just above does not.
    expect((await nsfwjsScreen(session, { porn: 1, hentai: 1, sexy: p.sexy })(first!.image)).nsfw).toBe(true);
    expect(
      (await nsfwjsScreen(session, { porn: 1, hentai: 1, sexy: p.sexy + 1e-6 })(first!.image)).nsfw,
    ).toBe(false);
    expect((await nsfwjsScreen(session, { porn: p.porn, hentai: 1, sexy: 1 })(first!.image)).nsfw).toBe(true);
  });
});
