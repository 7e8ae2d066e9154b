import sharp from 'sharp';
import type { NsfwVerdict } from '../queue/job-data.ts';
import type { ModelPart } from './diffusion-model.ts';
import type { RgbImage } from './image-io.ts';
import type { LoadedClassifier } from './model-store.ts';
import { outputOf, requireInput, requireOutput, runPart, toInput } from './onnx-io.ts';

/** Screens one picture. */
export type NsfwScreen = (image: RgbImage) => Promise<NsfwVerdict>;

// CLIPImageProcessor's normalisation, which the SD safety checker expects.
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** Shortest side to `size` and a centre crop (CLIP's preprocessing), as [3, size, size] normalised. */
async function preprocess(image: RgbImage, size: number, mean: readonly number[], std: readonly number[]) {
  const raw = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(size, size, { fit: 'cover', kernel: 'cubic' })
    .raw()
    .toBuffer();
  const plane = size * size;
  const planar = new Float32Array(3 * plane);
  const unit = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = raw[i * 3 + c]! / 255;
      unit[i * 3 + c] = v;
      planar[c * plane + i] = (v - mean[c]!) / std[c]!;
    }
  }
  return { planar, unit };
}

/**
 * The Stable Diffusion safety checker (`clip_input`, `images` -> `has_nsfw_concepts`). It answers
 * yes or no, so the score is 1 or 0. Run one picture at a time: the exported checker's batch
 * handling is unreliable (diffusers does the same).
 */
export function safetyCheckerScreen(checker: ModelPart): NsfwScreen {
  const clipSpec = checker.inputs.clip_input!;
  const imagesSpec = checker.inputs.images!;
  return async (image) => {
    const { planar, unit } = await preprocess(image, 224, CLIP_MEAN, CLIP_STD);
    // The checker returns `images` unchanged or blacked out; we only read the verdict, so it gets the
    // small crop rather than the full picture.
    const result = await runPart(checker.session, 'safety_checker', {
      clip_input: toInput(clipSpec, planar, [1, 3, 224, 224]),
      images: toInput(imagesSpec, unit, [1, 224, 224, 3]),
    });
    const flagged = (outputOf(result, 'safety_checker', checker.output).data[0] ?? 0) > 0;
    return { nsfw: flagged, score: flagged ? 1 : 0 };
  };
}

/** Labels a two-class (or more) NSFW classifier uses for unsafe content. */
const UNSAFE_LABEL = /nsfw|porn|hentai|sexy|explicit|unsafe|nud/i;

/** An image classifier (`pixel_values` -> `logits`): score = probability of the unsafe labels. */
export function classifierScreen(classifier: LoadedClassifier, threshold: number): NsfwScreen {
  const spec = requireInput(classifier.session, 'nsfw-classifier', 'pixel_values');
  const output = requireOutput(classifier.session, 'nsfw-classifier', ['logits']);
  const unsafe = classifier.labels.map((label) => UNSAFE_LABEL.test(label));
  return async (image) => {
    const size = classifier.size;
    const { planar } = await preprocess(image, size, classifier.mean, classifier.std);
    const result = await runPart(classifier.session, 'nsfw-classifier', {
      pixel_values: toInput(spec, planar, [1, 3, size, size]),
    });
    const logits = Array.from(outputOf(result, 'nsfw-classifier', output).data);
    const top = Math.max(...logits);
    const exp = logits.map((l) => Math.exp(l - top));
    const total = exp.reduce((a, b) => a + b, 0);
    const score = exp.reduce((sum, e, i) => sum + (unsafe[i] ? e / total : 0), 0);
    return { nsfw: score >= threshold, score: Math.round(score * 1e4) / 1e4 };
  };
}
