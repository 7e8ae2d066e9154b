import type { Tensor as OrtTensor } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import type { DiffusionModel } from './diffusion-model.ts';
import { guideInto, scaleInto } from './kernels/kernels.ts';
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
  return repeatedRows([[item, times]]);
}

/**
 * Each item repeated its count of times, one after another, in one new buffer: a conditioning
 * input's rows for the UNet (real SD3's are 5.5 MB an image, so they are written once, not built
 * from intermediate copies).
 */
function repeatedRows(parts: readonly (readonly [Float32Array, number])[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, [item, times]) => a + item.length * times, 0));
  let offset = 0;
  for (const [item, times] of parts) {
    for (let i = 0; i < times; i++, offset += item.length) out.set(item, offset);
  }
  return out;
}

/**
 * The denoising loop of diffusers' Stable Diffusion pipelines: starting latents from seeded noise
 * (or the noised init picture), then per timestep one batched UNet run with the unconditional and
 * conditional halves together (classifier-free guidance; the family's conditioning inputs, whatever they are), the guidance mix, the scheduler step, and
 * for ordinary UNets in inpainting, the kept area blended back from the init latents.
 * Returns the final latents [n, C, h, w] (still scaled).
 */
export function denoise(request: DenoiseRequest): Promise<Tensor> {
  return denoiseTogether([request])[0]!;
}

/**
 * Several requests denoised with one UNet run per step (cross-user batching; src/engine/render-batch.ts).
 * Each request is a lane with its own scheduler, seeded noise, conditioning, guidance and init, and
 * the UNet sees each lane's rows exactly as it would alone, so a lane's latents are the ones it gets
 * alone. Lanes that cannot share a run (another model, size or schedule; a UNet exported with a
 * fixed batch) run one after another. A lane whose signal aborts leaves between steps (its promise
 * rejects with RenderCancelled) and the others continue; one promise per request, in order.
 */
export function denoiseTogether(
  requests: readonly DenoiseRequest[],
  options: { onGroup?: (lanes: number) => void } = {},
): Promise<Tensor>[] {
  const lanes: Lane[] = [];
  const promises = requests.map((request) => {
    return new Promise<Tensor>((resolve, reject) => {
      try {
        lanes.push(prepareLane(request, resolve, reject));
      } catch (error) {
        reject(error);
      }
    });
  });
  void runGroups(lanes, options.onGroup);
  return promises;
}

interface Lane {
  request: DenoiseRequest;
  resolve: (latents: Tensor) => void;
  reject: (error: unknown) => void;
  done: boolean;
  n: number;
  dims: number[];
  noise: BatchNoise;
  initialNoise: Tensor;
  timesteps: readonly number[];
  init: Tensor | undefined;
  latents: Tensor;
  /** Whether `latents` is a buffer only this loop holds (it made it, or lent it to the scheduler). */
  ownsLatents: boolean;
  /** The buffer lent to the scheduler for the next latents (StepOptions.into): steps allocate nothing. */
  spare: Float32Array;
  guided: boolean;
  /** UNet rows: 2n when guided (negative halves first, as diffusers' torch.cat([negative, positive])), else n. */
  rows: number;
  inpaintUnet: boolean;
  /** The mask and masked-picture channels of a 9-channel UNet, per row. */
  extra: Float32Array | undefined;
  /** Each conditioning input's values for all the lane's rows. */
  conditioning: Map<string, { values: Float32Array; shape: number[] }>;
}

function prepareLane(
  request: DenoiseRequest,
  resolve: (latents: Tensor) => void,
  reject: (error: unknown) => void,
): Lane {
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
  const fromNoise = init === undefined || (request.inpaint !== undefined && request.strength >= 1);
  if (fromNoise) {
    const sigma = scheduler.initNoiseSigma;
    latents = { data: new Float32Array(initialNoise.data.length), dims };
    scaleInto(latents.data, initialNoise.data, sigma);
  } else {
    latents = scheduler.addNoise(init, initialNoise, timesteps[0]!);
  }

  const guided = guidance > 1;
  const rows = guided ? 2 * n : n;
  const extra = inpaintUnet
    ? buildInpaintChannels(request.inpaint!.mask, request.inpaint!.maskedImageLatents!, plane, perImage, rows)
    : undefined;
  const { denoiser } = model;
  const conditioning = new Map<string, { values: Float32Array; shape: number[] }>();
  for (const input of text.inputs) {
    if (denoiser.inputs[input.name] === undefined) {
      throw new CodedError(
        'engine-failed',
        `${denoiser.part} has no input "${input.name}" for its conditioning`,
      );
    }
    // One image unguided reads the encoder's own buffer, which nothing writes to.
    const values = guided
      ? repeatedRows([
          [input.uncond, n],
          [input.cond, n],
        ])
      : n === 1
        ? input.cond
        : repeat(input.cond, n);
    conditioning.set(input.name, { values, shape: input.shape });
  }
  const chunk = model.unetBatch ?? rows;
  if (rows % chunk !== 0) {
    throw new CodedError(
      'model-invalid',
      `${denoiser.part}/model.onnx takes a fixed batch of ${chunk}; a batch of ${rows} is needed`,
    );
  }
  return {
    request,
    resolve,
    reject,
    done: false,
    n,
    dims,
    noise,
    initialNoise,
    timesteps,
    init,
    latents,
    ownsLatents: fromNoise,
    spare: new Float32Array(n * perImage),
    guided,
    rows,
    inpaintUnet,
    extra,
    conditioning,
  };
}

/** What lanes must share to go through the UNet in one run. */
function shareKey(lane: Lane): string {
  const { request } = lane;
  const inputs = [...lane.conditioning].map(([name, { shape }]) => `${name}:${shape.join('x')}`);
  return JSON.stringify([request.latentHeight, request.latentWidth, lane.timesteps, inputs]);
}

async function runGroups(lanes: Lane[], onGroup?: (lanes: number) => void): Promise<void> {
  const groups: Lane[][] = [];
  for (const lane of lanes) {
    const model = lane.request.model;
    // A fixed batch dimension leaves nothing to share: such a model's lanes run one at a time.
    const group =
      model.unetBatch === undefined
        ? groups.find((g) => g[0]!.request.model === model && shareKey(g[0]!) === shareKey(lane))
        : undefined;
    if (group !== undefined) group.push(lane);
    else groups.push([lane]);
  }
  for (const group of groups) {
    try {
      onGroup?.(group.length);
      await denoiseGroup(group);
    } catch (error) {
      for (const lane of group) finish(lane, error);
    }
  }
}

function finish(lane: Lane, outcome: unknown, latents?: Tensor): void {
  if (lane.done) return;
  lane.done = true;
  if (latents !== undefined) lane.resolve(latents);
  else lane.reject(outcome);
}

/** The guidance mix, the scheduler step and, for ordinary UNets inpainting, the kept area blended back. */
function stepLane(
  lane: Lane,
  own: Float32Array,
  /** Whether `own` is this step's alone (else a buffer the next step overwrites). */
  fresh: boolean,
  t: number,
  nextTimestep: number | undefined,
  plane: number,
  perImage: number,
): void {
  const { request, n, dims } = lane;
  // A scheduler may keep the model output (PNDM's history): the guided prediction goes over the
  // unconditional half of an output that is this step's alone, else into a new buffer.
  const size = n * perImage;
  const noisePred = fresh ? own.subarray(0, size) : new Float32Array(size);
  if (lane.guided)
    guideInto(noisePred, own.subarray(0, size), own.subarray(size, 2 * size), request.guidance);
  else if (!fresh) noisePred.set(own.subarray(0, size));
  const last = lane.latents;
  const into = lane.spare;
  lane.latents = request.scheduler.step({ data: noisePred, dims }, t, last, {
    noise: () => lane.noise.randn(dims),
    into,
  }).prevSample;
  if (lane.latents.data === into) {
    // A scheduler that writes into the lent buffer keeps nothing of the step: the last latents are
    // free to lend next time, if only this loop held them.
    lane.spare = lane.ownsLatents ? last.data : new Float32Array(into.length);
    lane.ownsLatents = true;
  } else {
    lane.ownsLatents = false;
  }
  if (request.inpaint !== undefined && !lane.inpaintUnet && lane.init !== undefined) {
    lane.ownsLatents = false;
    lane.latents = blendKept(
      request.scheduler,
      lane.latents,
      lane.init,
      lane.initialNoise,
      request.inpaint.mask,
      nextTimestep,
      plane,
    );
  }
}

/** Lanes of one model, size and schedule: one UNet run per step (per fixed-size chunk) for all of them. */
async function denoiseGroup(group: Lane[]): Promise<void> {
  const { model } = group[0]!.request;
  const { denoiser } = model;
  const c = model.latentChannels;
  const h = group[0]!.request.latentHeight;
  const w = group[0]!.request.latentWidth;
  const plane = h * w;
  const perImage = c * plane;
  const unetChannels = model.unetInChannels;
  const sampleSpec = denoiser.inputs.sample!;
  const timestepSpec = denoiser.inputs.timestep!;
  const sampleName = model.strategy.sampleInput;
  const scalarTimestep = timestepSpec.shape.length === 0;
  const timesteps = group[0]!.timesteps;

  // The conditioning is the same at every step: its tensors are built once per set of lanes, per chunk.
  let membership = '';
  let conditioningTensors: Record<string, OrtTensor>[] = [];
  let chunk = 0;
  let batch = 0;
  let modelInput = new Float32Array(0);
  let prediction = new Float32Array(0);

  for (let i = 0; i < timesteps.length; i++) {
    for (const lane of group) {
      if (!lane.done && lane.request.signal?.aborted) finish(lane, new RenderCancelled('render cancelled'));
    }
    const live = group.filter((lane) => !lane.done);
    if (live.length === 0) return;
    const t = timesteps[i]!;

    const members = live.map((lane) => group.indexOf(lane)).join(',');
    if (members !== membership) {
      membership = members;
      batch = live.reduce((sum, lane) => sum + lane.rows, 0);
      chunk = model.unetBatch ?? batch;
      modelInput = new Float32Array(batch * unetChannels * plane);
      // Gathers a fixed-batch UNet's chunks; one run for the whole batch needs none.
      prediction = chunk === batch ? new Float32Array(0) : new Float32Array(batch * perImage);
      conditioningTensors = [];
      for (let start = 0; start < batch; start += chunk) conditioningTensors.push({});
      for (const name of live[0]!.conditioning.keys()) {
        const { shape } = live[0]!.conditioning.get(name)!;
        const size = shape.reduce((a, b) => a * b, 1);
        // One lane (the usual case) hands over its own rows; several are joined once per membership.
        const all =
          live.length === 1
            ? live[0]!.conditioning.get(name)!.values
            : repeatedRows(live.map((lane) => [lane.conditioning.get(name)!.values, 1] as const));
        for (let start = 0, k = 0; start < batch; start += chunk, k++) {
          conditioningTensors[k]![name] = toInput(
            denoiser.inputs[name]!,
            all.subarray(start * size, (start + chunk) * size),
            [chunk, ...shape],
          );
        }
      }
    }

    let row = 0;
    for (const lane of live) {
      writeLaneInput(lane, modelInput, row, t, unetChannels * plane, perImage);
      row += lane.rows;
    }
    const began = performance.now();
    // One run for the whole batch (the usual case) hands over its own output, fresh each step; a
    // fixed-batch UNet's chunks are gathered into the reused buffer.
    let predicted: Float32Array = prediction;
    for (let start = 0, k = 0; start < batch; start += chunk, k++) {
      const sample = toInput(
        sampleSpec,
        modelInput.subarray(start * unetChannels * plane, (start + chunk) * unetChannels * plane),
        [chunk, unetChannels, h, w],
      );
      const timestep = scalarTimestep
        ? toInput(timestepSpec, [t], [])
        : toInput(timestepSpec, new Array(chunk).fill(t), [chunk]);
      const result = await runPart(denoiser.session, denoiser.part, {
        ...conditioningTensors[k]!,
        [sampleName]: sample,
        timestep,
      });
      const out = outputOf(result, denoiser.part, denoiser.output);
      expectDims(out.dims, [chunk, c, h, w], denoiser.part, denoiser.output);
      if (chunk === batch) predicted = out.data;
      else prediction.set(out.data, start * perImage);
    }
    const fresh = predicted !== prediction;
    const elapsed = performance.now() - began;
    for (const timer of new Set(live.map((lane) => lane.request.unetTime))) {
      if (timer !== undefined) timer.ms += elapsed;
    }

    row = 0;
    for (const lane of live) {
      const own = predicted.subarray(row * perImage, (row + lane.rows) * perImage);
      row += lane.rows;
      // What goes wrong in one lane's step (its progress report, say) ends that lane only.
      try {
        stepLane(lane, own, fresh, t, timesteps[i + 1], plane, perImage);
        lane.request.onStep?.(i + 1, timesteps.length);
      } catch (error) {
        finish(lane, error);
      }
    }
  }
  for (const lane of group) finish(lane, undefined, lane.latents);
}

/**
 * A lane's rows of the UNet input from `row` on: each image's latents times the scheduler's input
 * factor (diffusers' scale_model_input), written once and copied for the guided half, then a
 * 9-channel UNet's mask and masked-picture channels. This runs every step over every latent, so it
 * writes straight into the batch's input instead of through a scaled copy of the latents.
 */
function writeLaneInput(
  lane: Lane,
  modelInput: Float32Array,
  row: number,
  t: number,
  rowSize: number,
  perImage: number,
): void {
  const factor = lane.request.scheduler.modelInputScale(t);
  const latents = lane.latents.data;
  for (let b = 0; b < lane.rows; b++) {
    const image = b % lane.n;
    const base = (row + b) * rowSize;
    if (b >= lane.n) {
      // The guided half repeats the first half's latents.
      modelInput.copyWithin(base, (row + image) * rowSize, (row + image) * rowSize + perImage);
    } else if (factor === 1) {
      modelInput.set(latents.subarray(image * perImage, (image + 1) * perImage), base);
    } else {
      const from = image * perImage;
      scaleInto(modelInput.subarray(base, base + perImage), latents.subarray(from, from + perImage), factor);
    }
    if (lane.extra !== undefined) {
      const extraSize = rowSize - perImage;
      modelInput.set(lane.extra.subarray(b * extraSize, (b + 1) * extraSize), base + perImage);
    }
  }
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
