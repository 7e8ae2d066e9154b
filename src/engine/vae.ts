import type { DiffusionModel } from './diffusion-model.ts';
import { expectDims, outputOf, runPart, toInput } from './onnx-io.ts';

/**
 * The VAE halves. Pictures are [3, H, W] in [-1, 1]; latents are as the denoiser sees them:
 * `(z - shift_factor) * scaling_factor` (SD3's VAE has a shift; the others' is 0), as diffusers'
 * StableDiffusion3Img2ImgPipeline.prepare_latents and the `latents / scaling_factor + shift_factor`
 * before `vae.decode` in StableDiffusion3Pipeline.__call__. One picture per run: a full-size VAE pass is the most
 * memory-hungry step of the pipeline, and batching it buys little.
 */
export async function encodePicture(
  model: DiffusionModel,
  pixels: Float32Array,
  height: number,
  width: number,
): Promise<Float32Array> {
  const encoder = await model.vaeEncoder();
  const result = await runPart(encoder.session, 'vae_encoder', {
    sample: toInput(encoder.inputs.sample!, pixels, [1, 3, height, width]),
  });
  const c = model.latentChannels;
  const f = model.vaeScaleFactor;
  const out = outputOf(result, 'vae_encoder', encoder.output);
  const h = height / f;
  const w = width / f;
  // `latent_parameters` holds the mean then the log-variance: the mean is the deterministic latent.
  const channels = encoder.output === 'latent_parameters' ? 2 * c : c;
  expectDims(out.dims, [1, channels, h, w], 'vae_encoder', encoder.output);
  const latents = out.data.slice(0, c * h * w);
  const { scalingFactor, shiftFactor } = model;
  for (let i = 0; i < latents.length; i++) latents[i] = (latents[i]! - shiftFactor) * scalingFactor;
  return latents;
}

/**
 * Latents [n, C, h, w] -> n pictures [3, h*f, w*f], nominally in [-1, 1]: the decoder's own output
 * buffers, neither copied nor clamped (planarToRgb clamps as it converts; a copy and a clamping
 * pass over every pixel were most of easel's own time in a small render).
 */
export async function decodeLatents(
  model: DiffusionModel,
  latents: Float32Array,
  n: number,
  h: number,
  w: number,
): Promise<{ pictures: Float32Array[]; height: number; width: number }> {
  const c = model.latentChannels;
  const f = model.vaeScaleFactor;
  const perLatent = c * h * w;
  const perPicture = 3 * h * f * w * f;
  const pictures: Float32Array[] = [];
  const spec = model.vaeDecoder.inputs.latent_sample!;
  const { scalingFactor, shiftFactor } = model;
  for (let i = 0; i < n; i++) {
    const scaled = new Float32Array(perLatent);
    for (let j = 0; j < perLatent; j++) scaled[j] = latents[i * perLatent + j]! / scalingFactor + shiftFactor;
    const result = await runPart(model.vaeDecoder.session, 'vae_decoder', {
      latent_sample: toInput(spec, scaled, [1, c, h, w]),
    });
    const out = outputOf(result, 'vae_decoder', model.vaeDecoder.output);
    expectDims(out.dims, [1, 3, h * f, w * f], 'vae_decoder', model.vaeDecoder.output);
    pictures.push(out.data.subarray(0, perPicture));
  }
  return { pictures, height: h * f, width: w * f };
}
