import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import { detectModelFamily, FAMILY_LABELS, type FamilyLayout, familyParts } from '../models/model-family.ts';
import type { ProviderChooser, ProviderName } from './execution-providers.ts';
import { FAMILY_STRATEGIES, type FamilyStrategy } from './family-strategies.ts';
import {
  expectDims,
  type InputSpec,
  outputOf,
  requireDim,
  requireFloat,
  requireInput,
  requireOutput,
  runPart,
  toInput,
} from './onnx-io.ts';
import { PromptTokenizer } from './prompt-tokenizer.ts';

/** One ONNX part of a model with the names the pipeline feeds and reads. */
export interface ModelPart {
  session: InferenceSession;
  inputs: Record<string, InputSpec>;
  output: string;
}

/** A CLIP text encoder's final LayerNorm, for reading an earlier layer as the last one is read. */
export interface FinalNorm {
  weight: Float32Array;
  bias: Float32Array;
  epsilon: number;
}

/** A text encoder with its tokenizer and the outputs the family reads from it. */
export interface TextEncoderPart {
  /** The folder, e.g. `text_encoder_2`, for messages. */
  part: string;
  session: InferenceSession;
  ids: InputSpec;
  tokenizer: PromptTokenizer;
  /** `last_hidden_state` or the penultimate `hidden_states.N`. */
  hiddenOutput: string;
  /** `text_embeds` (CLIPTextModelWithProjection) or `pooler_output`, where the family pools this encoder. */
  pooledOutput?: string;
  /** Clip skip: the LayerNorm applied to an earlier layer's hidden output (clip-skip.ts). */
  finalNorm?: FinalNorm;
  /** The hidden output's width when the export fixes it. */
  width?: number;
  pooledWidth?: number;
}

/**
 * A diffusers/Optimum ONNX model folder of any family, loaded: its sessions and the numbers the
 * pipeline needs, read from its configs and its sessions' metadata (never assumed): the family and
 * its strategy, latent channels, the VAE's scale, scaling and shift factors, whether the denoiser
 * is an inpainting one.
 */
export interface DiffusionModel {
  id: string;
  dir: string;
  provider: ProviderName;
  layout: FamilyLayout;
  strategy: FamilyStrategy;
  /** In the layout's order; undefined where an optional encoder (SD3's T5) is not installed. */
  textEncoders: (TextEncoderPart | undefined)[];
  /** The UNet or SD3's transformer; `inputs` by tensor name. */
  denoiser: ModelPart & { part: 'unet' | 'transformer' };
  vaeDecoder: ModelPart;
  /** Loaded on first use: only the modes that start from an image need it. */
  vaeEncoder(): Promise<ModelPart>;
  safetyChecker?: ModelPart;
  schedulerConfig: Record<string, unknown>;
  /** The denoiser's config.json (SD3's `joint_attention_dim`), empty when absent. */
  denoiserConfig: Record<string, unknown>;
  latentChannels: number;
  vaeScaleFactor: number;
  scalingFactor: number;
  /** SD3's VAE: latents = (z - shift) * scale. 0 for the others. */
  shiftFactor: number;
  /** latentChannels for an ordinary denoiser; 2 * latentChannels + 1 for an inpainting one. */
  unetInChannels: number;
  /** A fixed batch size the denoiser was exported with, when it has one. */
  unetBatch?: number;
  /** Bytes of the ONNX files loaded (weights included), checked against free memory before loading. */
  bytes: number;
  loadMs: number;
  release(): Promise<void>;
}

export interface LoadOptions {
  /** Bytes of memory available for weights; os.freemem() unless given (tests). */
  availableMemory?: () => number;
}

async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  if (!existsSync(path)) {
    if (required) throw new CodedError('model-missing', `${path} is missing`);
    return undefined;
  }
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new CodedError('model-invalid', `${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

function fixedDim(spec: InputSpec | undefined, axis: number): number | undefined {
  const d = spec?.shape[axis];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

function outputDim(session: InferenceSession, name: string, axis: number): number | undefined {
  const meta = session.outputMetadata.find((m) => m.name === name);
  if (meta === undefined || !meta.isTensor) return undefined;
  const d = meta.shape[axis];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

/** Every file of a part's folder: model.onnx and its external weights, whatever they are named. */
function partBytes(dir: string, part: string): number {
  const folder = join(dir, part);
  let total = 0;
  for (const name of readdirSync(folder)) {
    const stat = statSync(join(folder, name));
    if (stat.isFile()) total += stat.size;
  }
  return total;
}

function size(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.ceil(bytes / 1024)} KB`;
}

/** SDXL and SD3 read `hidden_states[-2]`: Optimum exports them as `hidden_states.0` … `hidden_states.L`. */
function penultimateOutput(session: InferenceSession, part: string, family: string): string {
  let last = -1;
  for (const name of session.outputNames) {
    const m = /^hidden_states\.(\d+)$/.exec(name);
    if (m !== null) last = Math.max(last, Number(m[1]));
  }
  if (last < 1) {
    throw new CodedError(
      'model-invalid',
      `${part}/model.onnx has no hidden_states.N outputs (outputs: ${session.outputNames.join(', ')}); ` +
        `${family} reads the penultimate layer: export it with Optimum, which adds them`,
    );
  }
  return `hidden_states.${last - 1}`;
}

/**
 * Loads every part the family uses, after checking their files fit in memory; checks that the
 * parts agree with each other (text widths, pooled widths, time_ids, latent channels) so a folder
 * mixing families fails here, not mid-job.
 */
export async function loadDiffusionModel(
  id: string,
  dir: string,
  providers: ProviderChooser,
  options: LoadOptions = {},
): Promise<DiffusionModel> {
  const started = performance.now();
  const layout = detectModelFamily(dir);
  const strategy = FAMILY_STRATEGIES[layout.family];
  const label = FAMILY_LABELS[layout.family];
  const parts = familyParts(layout, false);
  if (existsSync(join(dir, 'safety_checker', 'model.onnx'))) parts.push('safety_checker');
  const bytes = parts.reduce((sum, part) => sum + partBytes(dir, part), 0);
  const available = (options.availableMemory ?? freemem)();
  // onnxruntime holds each file's weights once in memory (plus a little working space): a model
  // whose files outgrow what is free would be killed part way through loading or its first job.
  if (bytes > available) {
    throw new CodedError(
      'model-invalid',
      `model "${id}" needs about ${size(bytes)} of memory for its weights (${parts.join(', ')}) ` +
        `but only ${size(available)} is free; free memory, or install a smaller export (fp16, or without text_encoder_3)`,
    );
  }

  const opened: InferenceSession[] = [];
  const open = async (part: string) => {
    const loaded = await providers.open(join(dir, part, 'model.onnx'), `${part}/model.onnx`);
    opened.push(loaded.session);
    return loaded;
  };
  try {
    const schedulerConfig = (await readJson(join(dir, 'scheduler', 'scheduler_config.json'), true))!;
    const denoiserConfig = (await readJson(join(dir, layout.denoiser, 'config.json'), false)) ?? {};
    const vaeConfig =
      (await readJson(join(dir, 'vae_decoder', 'config.json'), false)) ??
      (await readJson(join(dir, 'vae', 'config.json'), false)) ??
      {};

    const textEncoders: (TextEncoderPart | undefined)[] = [];
    for (const [i, component] of layout.text.entries()) {
      if (!component.present) {
        textEncoders.push(undefined);
        continue;
      }
      const part = component.encoder;
      const { session } = await open(part);
      const ids = requireInput(session, part, 'input_ids');
      const hiddenOutput =
        strategy.hiddenLayers[i] === 'penultimate'
          ? penultimateOutput(session, part, label)
          : requireOutput(session, part, ['last_hidden_state']);
      const maxLength = fixedDim(ids, 1) ?? strategy.maxTokens[i] ?? 77;
      const encoder: TextEncoderPart = {
        part,
        session,
        ids,
        tokenizer: await PromptTokenizer.load(join(dir, component.tokenizer), maxLength),
        hiddenOutput,
      };
      const width = outputDim(session, hiddenOutput, 2);
      if (width !== undefined) encoder.width = width;
      if (strategy.pooled[i] === true) {
        encoder.pooledOutput = requireOutput(session, part, ['text_embeds', 'pooler_output']);
        const pooledWidth = outputDim(session, encoder.pooledOutput, 1);
        if (pooledWidth !== undefined) encoder.pooledWidth = pooledWidth;
      }
      textEncoders.push(encoder);
    }

    const denoiserPart = layout.denoiser;
    const denoiserLoaded = await open(denoiserPart);
    const denoiserInputs: Record<string, InputSpec> = {
      sample: requireInput(denoiserLoaded.session, denoiserPart, strategy.sampleInput),
      timestep: requireInput(denoiserLoaded.session, denoiserPart, 'timestep'),
    };
    for (const name of strategy.conditioningInputs) {
      denoiserInputs[name] = requireInput(denoiserLoaded.session, denoiserPart, name);
      requireFloat(denoiserInputs[name]!, denoiserPart);
    }
    requireFloat(denoiserInputs.sample!, denoiserPart);
    const denoiser = {
      part: denoiserPart,
      session: denoiserLoaded.session,
      inputs: denoiserInputs,
      output: requireOutput(denoiserLoaded.session, denoiserPart, [strategy.output]),
    };

    const decoderLoaded = await open('vae_decoder');
    const latentInput = requireInput(decoderLoaded.session, 'vae_decoder', 'latent_sample');
    requireFloat(latentInput, 'vae_decoder');
    const vaeDecoder: ModelPart = {
      session: decoderLoaded.session,
      inputs: { latent_sample: latentInput },
      output: requireOutput(decoderLoaded.session, 'vae_decoder', ['sample']),
    };

    const latentChannels =
      positiveInt(vaeConfig.latent_channels) ??
      positiveInt(denoiserConfig.out_channels) ??
      fixedDim(latentInput, 1) ??
      strategy.latentChannels;
    requireDim(latentInput, 'vae_decoder', 1, latentChannels, 'latent channels');
    const unetInChannels =
      positiveInt(denoiserConfig.in_channels) ?? fixedDim(denoiserInputs.sample, 1) ?? latentChannels;
    requireDim(denoiserInputs.sample!, denoiserPart, 1, unetInChannels, 'channels');
    if (unetInChannels !== latentChannels && unetInChannels !== latentChannels * 2 + 1) {
      throw new CodedError(
        'model-invalid',
        `${denoiserPart} takes ${unetInChannels} channels but the VAE has ${latentChannels} latent channels ` +
          `(expected ${latentChannels}, or ${latentChannels * 2 + 1} for inpainting)`,
      );
    }
    checkTextAgreement(layout, textEncoders, denoiser.inputs, denoiserConfig, denoiserPart, label);

    const blocks = Array.isArray(vaeConfig.block_out_channels)
      ? vaeConfig.block_out_channels.length
      : undefined;
    const vaeScaleFactor =
      blocks !== undefined && blocks > 0
        ? 2 ** (blocks - 1)
        : await probeScaleFactor(vaeDecoder, latentChannels);
    const scalingFactor =
      typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : strategy.scalingFactor;
    const shiftFactor =
      typeof vaeConfig.shift_factor === 'number' ? vaeConfig.shift_factor : strategy.shiftFactor;

    let safetyChecker: ModelPart | undefined;
    if (parts.includes('safety_checker')) {
      const loaded = await open('safety_checker');
      safetyChecker = {
        session: loaded.session,
        inputs: {
          clip_input: requireInput(loaded.session, 'safety_checker', 'clip_input'),
          images: requireInput(loaded.session, 'safety_checker', 'images'),
        },
        output: requireOutput(loaded.session, 'safety_checker', ['has_nsfw_concepts']),
      };
    }

    let encoder: Promise<ModelPart> | undefined;
    const vaeEncoder = () => {
      encoder ??= (async () => {
        if (!existsSync(join(dir, 'vae_encoder', 'model.onnx'))) {
          throw new CodedError(
            'model-missing',
            `model "${id}" has no vae_encoder/model.onnx, which modes starting from an image need`,
          );
        }
        const loaded = await open('vae_encoder');
        const sample = requireInput(loaded.session, 'vae_encoder', 'sample');
        requireFloat(sample, 'vae_encoder');
        return {
          session: loaded.session,
          inputs: { sample },
          // Newer Optimum exports give the distribution's parameters (mean and log-variance).
          output: requireOutput(loaded.session, 'vae_encoder', ['latent_sample', 'latent_parameters']),
        };
      })();
      encoder.catch(() => {
        encoder = undefined;
      });
      return encoder;
    };

    const unetBatch = fixedDim(denoiserInputs.sample, 0);
    const model: DiffusionModel = {
      id,
      dir,
      provider: denoiserLoaded.provider,
      layout,
      strategy,
      textEncoders,
      denoiser,
      vaeDecoder,
      vaeEncoder,
      schedulerConfig,
      denoiserConfig,
      latentChannels,
      vaeScaleFactor,
      scalingFactor,
      shiftFactor,
      unetInChannels,
      bytes,
      loadMs: Math.round(performance.now() - started),
      release: async () => {
        await Promise.all(opened.map((s) => s.release()));
      },
    };
    if (safetyChecker !== undefined) model.safetyChecker = safetyChecker;
    if (unetBatch !== undefined) model.unetBatch = unetBatch;
    return model;
  } catch (error) {
    await Promise.all(opened.map((s) => s.release().catch(() => {})));
    throw error;
  }
}

/**
 * The text encoders' widths against what the denoiser takes, wherever the exports fix them: a UNet
 * of one family with another family's text encoder fails here with both numbers named.
 */
function checkTextAgreement(
  layout: FamilyLayout,
  encoders: (TextEncoderPart | undefined)[],
  inputs: Record<string, InputSpec>,
  config: Record<string, unknown>,
  part: string,
  label: string,
): void {
  const mismatch = (what: string, takes: number, gives: number, from: string) =>
    new CodedError(
      'model-invalid',
      `${part}/model.onnx takes ${what} ${takes} wide but ${from} gives ${gives}: ` +
        `the folder mixes parts of different models (model_index.json says ${label})`,
    );
  const context = fixedDim(inputs.encoder_hidden_states, 2) ?? positiveInt(config.joint_attention_dim);
  const clips = layout.family === 'sd3' ? encoders.slice(0, 2) : encoders;
  const widths = clips.map((e) => e?.width);
  const clipWidth = widths.every((w) => w !== undefined) ? widths.reduce((a, b) => a! + b!, 0)! : undefined;
  const names = clips.map((e) => e?.part).join(' + ');
  if (layout.family === 'sd3') {
    const t5 = encoders[2];
    if (context !== undefined && t5?.width !== undefined && t5.width !== context)
      throw mismatch('encoder_hidden_states', context, t5.width, t5.part);
    // The CLIPs' joined states are zero-padded up to T5's width: they may be narrower, never wider.
    if (context !== undefined && clipWidth !== undefined && clipWidth > context)
      throw mismatch('encoder_hidden_states', context, clipWidth, names);
    if (context === undefined && t5 === undefined) {
      throw new CodedError(
        'model-invalid',
        `${part}: without text_encoder_3 the width of T5's zeros comes from transformer/config.json's ` +
          'joint_attention_dim or a fixed encoder_hidden_states width, and it has neither',
      );
    }
    const pooled = encoders.slice(0, 2).map((e) => e?.pooledWidth);
    const takes = fixedDim(inputs.pooled_projections, 1);
    if (takes !== undefined && pooled.every((w) => w !== undefined)) {
      const gives = pooled.reduce((a, b) => a! + b!, 0)!;
      if (gives !== takes) throw mismatch('pooled_projections', takes, gives, names);
    }
    return;
  }
  if (context !== undefined && clipWidth !== undefined && clipWidth !== context)
    throw mismatch('encoder_hidden_states', context, clipWidth, names);
  const pooledEncoder = encoders.at(-1);
  const takes = fixedDim(inputs.text_embeds, 1);
  if (takes !== undefined && pooledEncoder?.pooledWidth !== undefined && pooledEncoder.pooledWidth !== takes)
    throw mismatch('text_embeds', takes, pooledEncoder.pooledWidth, pooledEncoder.part);
  const timeIds = fixedDim(inputs.time_ids, 1);
  if (timeIds !== undefined && timeIds !== 5 && timeIds !== 6) {
    throw new CodedError(
      'model-invalid',
      `${part}/model.onnx takes time_ids of ${timeIds} numbers; SDXL takes 6 (the refiner 5)`,
    );
  }
}

/** Without a VAE config, decode one small latent and measure how much bigger the picture is. */
async function probeScaleFactor(decoder: ModelPart, channels: number): Promise<number> {
  const spec = decoder.inputs.latent_sample!;
  const side = 8;
  const result = await runPart(decoder.session, 'vae_decoder', {
    latent_sample: toInput(spec, new Float32Array(channels * side * side), [1, channels, side, side]),
  });
  const { dims } = outputOf(result, 'vae_decoder', decoder.output);
  const factor = (dims[2] ?? 0) / side;
  expectDims(dims, [1, 3, factor * side, factor * side], 'vae_decoder', decoder.output);
  if (!Number.isInteger(factor) || factor < 1) {
    throw new CodedError('model-invalid', `vae_decoder/model.onnx turns ${side}px latents into ${dims[2]}px`);
  }
  return factor;
}
