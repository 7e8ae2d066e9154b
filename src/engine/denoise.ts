import type { Tensor as OrtTensor } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import type { DiffusionModel } from './diffusion-model.ts';
import { expectDims, outputOf, runPart, toInput } from './onnx-io.ts';
import { type Scheduler, timestepsForStrength } from './schedulers/index.ts';
import type { Tensor } from './schedulers/tensor.ts';
import { BatchNoise } from './seeded-noise.ts';
import type { TextConditioning } from './text-conditioning.ts';

export interface InpaintConditioning {
  /** 1 where the picture is repainted, 0 where it is kept: latent resolution, [h*w]. */
  mask: Float32Array;
  /** For 9-channel UNets: latents of the picture with the repainted area blanked, [C*h*w]. */
  maskedImageLatents?: Float32Array;
}

export interface DenoiseRequest {
  model: DiffusionModel;
  scheduler: Scheduler;
  steps: number;
  /** 1 starts from pure noise; below 1 starts part way from `initLatents` (img2img). */
  strength: number;
  guidance: number;
  /** One seed per image of the batch. */
  seeds: readonly number[];
  latentHeight: number;
  latentWidth: number;
  text: TextConditioning;
  /**
   * The starting latents (already scaled): [C*h*w] shared by every image of the batch (a picture's),
   * or [n*C*h*w], one per image (an SDXL base's latents handed to its refiner).
   */
  initLatents?: Float32Array;
  inpaint?: InpaintConditioning;
  /**
   * Standard normal noise [n*C*h*w] to start from instead of the seeds' own draw (a seed walk's
   * interpolation between two seeds). Later draws (ancestral samplers) still come from the seeds.
   */
  startNoise?: Float32Array;
  signal?: AbortSignal;
  onStep?: (done: number, total: number) => void;
  /** Accumulates the time spent inside the UNet's session.run (for the benchmark). */
  unetTime?: { ms: number };
}

export class RenderCancelled extends Error {
  override readonly name = 'RenderCancelled';
}

function repeat(item: Float32Array, times: number): Float32Array {
  const out = new Float32Array(item.length * times);
  for (let i = 0; i < times; i++) out.set(item, i * item.length);
  return out;
}

/**
 * The denoising loop of diffusers' Stable Diffusion pipelines: starting latents from seeded noise
 * (or the noised init picture), then per timestep one batched UNet run with the unconditional and
 * conditional halves together (classifier-free guidance; the family's conditioning inputs, whatever they are), the guidance mix, the scheduler step, and
 * for ordinary UNets in inpainting, the kept area blended back from the init latents.
 * Returns the final latents [n, C, h, w] (still scaled).
 */
export async function denoise(request: DenoiseRequest): Promise<Tensor> {
  const { model, scheduler, guidance, text } = request;
  const n = request.seeds.length;
  const c = model.latentChannels;
  const h = request.latentHeight;
  const w = request.latentWidth;
  const plane = h * w;
  const perImage = c * plane;
  const dims = [n, c, h, w];
  const noise = new BatchNoise(request.seeds);
  const drawn = noise.randn(dims);
  if (request.startNoise !== undefined && request.startNoise.length !== drawn.length) {
    throw new CodedError(
      'engine-failed',
      `start noise of ${request.startNoise.length} values for ${dims.join('x')}`,
    );
  }
  const initialNoise: Tensor = { data: request.startNoise ?? drawn, dims };

  // At least one step, whatever the strength: a strength that rounds to no step still renders.
  const strength = Math.min(1, Math.max(request.strength, 1 / request.steps));
  const { timesteps } = timestepsForStrength(scheduler, request.steps, strength);
  const inpaintUnet = model.unetInChannels !== c;
  if (inpaintUnet && request.inpaint?.maskedImageLatents === undefined) {
    throw new CodedError('engine-failed', 'an inpainting UNet needs the mask and the masked picture');
  }
  const init: Tensor | undefined =
    request.initLatents === undefined
      ? undefined
      : {
          data:
            request.initLatents.length === perImage ? repeat(request.initLatents, n) : request.initLatents,
          dims,
        };

  let latents: Tensor;
  if (init === undefined || (request.inpaint !== undefined && request.strength >= 1)) {
    const sigma = scheduler.initNoiseSigma;
    latents = { data: initialNoise.data.map((v) => v * sigma), dims };
  } else {
    latents = scheduler.addNoise(init, initialNoise, timesteps[0]!);
  }

  const guided = guidance > 1;
  const batch = guided ? 2 * n : n;
  const unetChannels = model.unetInChannels;
  const extra = inpaintUnet
    ? buildInpaintChannels(
        request.inpaint!.mask,
        request.inpaint!.maskedImageLatents!,
        plane,
        perImage,
        batch,
      )
    : undefined;

  const { denoiser } = model;
  const chunk = model.unetBatch ?? batch;
  if (batch % chunk !== 0) {
    throw new CodedError(
      'model-invalid',
      `${denoiser.part}/model.onnx takes a fixed batch of ${chunk}; a batch of ${batch} is needed`,
    );
  }
  const sampleSpec = denoiser.inputs.sample!;
  const timestepSpec = denoiser.inputs.timestep!;
  const sampleName = model.strategy.sampleInput;
  // The conditioning is the same at every step: build its tensors once, per chunk of the batch
  // (negative halves first, as diffusers' torch.cat([negative, positive]) does).
  const conditioningTensors: Record<string, OrtTensor>[] = [];
  for (let start = 0; start < batch; start += chunk) conditioningTensors.push({});
  for (const input of text.inputs) {
    const spec = denoiser.inputs[input.name];
    if (spec === undefined) {
      throw new CodedError(
        'engine-failed',
        `${denoiser.part} has no input "${input.name}" for its conditioning`,
      );
    }
    const size = input.shape.reduce((a, b) => a * b, 1);
    const all = guided ? concat([repeat(input.uncond, n), repeat(input.cond, n)]) : repeat(input.cond, n);
    for (let start = 0, k = 0; start < batch; start += chunk, k++) {
      conditioningTensors[k]![input.name] = toInput(
        spec,
        all.subarray(start * size, (start + chunk) * size),
        [chunk, ...input.shape],
      );
    }
  }
  const scalarTimestep = timestepSpec.shape.length === 0;

  const modelInput = new Float32Array(batch * unetChannels * plane);
  const prediction = new Float32Array(batch * perImage);
  for (let i = 0; i < timesteps.length; i++) {
    if (request.signal?.aborted) throw new RenderCancelled('render cancelled');
    const t = timesteps[i]!;
    const scaled = scheduler.scaleModelInput(latents, t);
    for (let b = 0; b < batch; b++) {
      const image = b % n;
      const base = b * unetChannels * plane;
      modelInput.set(scaled.data.subarray(image * perImage, (image + 1) * perImage), base);
      if (extra !== undefined)
        modelInput.set(
          extra.subarray(b * (unetChannels - c) * plane, (b + 1) * (unetChannels - c) * plane),
          base + perImage,
        );
    }
    for (let start = 0, k = 0; start < batch; start += chunk, k++) {
      const sample = toInput(
        sampleSpec,
        modelInput.subarray(start * unetChannels * plane, (start + chunk) * unetChannels * plane),
        [chunk, unetChannels, h, w],
      );
      const timestep = scalarTimestep
        ? toInput(timestepSpec, [t], [])
        : toInput(timestepSpec, new Array(chunk).fill(t), [chunk]);
      const began = performance.now();
      const result = await runPart(denoiser.session, denoiser.part, {
        ...conditioningTensors[k]!,
        [sampleName]: sample,
        timestep,
      });
      if (request.unetTime !== undefined) request.unetTime.ms += performance.now() - began;
      const out = outputOf(result, denoiser.part, denoiser.output);
      expectDims(out.dims, [chunk, c, h, w], denoiser.part, denoiser.output);
      prediction.set(out.data, start * perImage);
    }
    let noisePred: Float32Array;
    if (guided) {
      noisePred = new Float32Array(n * perImage);
      const offset = n * perImage;
      for (let j = 0; j < noisePred.length; j++) {
        const u = prediction[j]!;
        noisePred[j] = u + guidance * (prediction[offset + j]! - u);
      }
    } else {
      noisePred = prediction.slice(0, n * perImage);
    }
    latents = scheduler.step({ data: noisePred, dims }, t, latents, {
      noise: () => noise.randn(dims),
    }).prevSample;
    if (request.inpaint !== undefined && !inpaintUnet && init !== undefined) {
      latents = blendKept(
        scheduler,
        latents,
        init,
        initialNoise,
        request.inpaint.mask,
        timesteps[i + 1],
        plane,
      );
    }
    request.onStep?.(i + 1, timesteps.length);
  }
  return latents;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** The mask and masked-picture latents a 9-channel UNet takes after the latents, per batch item. */
function buildInpaintChannels(
  mask: Float32Array,
  maskedLatents: Float32Array,
  plane: number,
  perImage: number,
  batch: number,
): Float32Array {
  const per = plane + perImage;
  const out = new Float32Array(batch * per);
  for (let b = 0; b < batch; b++) {
    out.set(mask, b * per);
    out.set(maskedLatents, b * per + plane);
  }
  return out;
}

/**
 * Ordinary UNets cannot see a mask, so after each step the kept area is replaced by the init latents
 * noised to the next step's level (diffusers' legacy inpainting); after the last step, by the clean ones.
 */
function blendKept(
  scheduler: Scheduler,
  latents: Tensor,
  init: Tensor,
  noise: Tensor,
  mask: Float32Array,
  nextTimestep: number | undefined,
  plane: number,
): Tensor {
  const known = nextTimestep === undefined ? init : scheduler.addNoise(init, noise, nextTimestep);
  const out = new Float32Array(latents.data.length);
  for (let i = 0; i < out.length; i++) {
    const m = mask[i % plane]!;
    out[i] = m * latents.data[i]! + (1 - m) * known.data[i]!;
  }
  return { data: out, dims: latents.dims };
}
