import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import type { ProviderChooser, ProviderName } from './execution-providers.ts';
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

/**
 * A Stable Diffusion-style model folder, loaded: its sessions and the numbers the pipeline needs,
 * read from its configs and its sessions' metadata (never assumed): latent channels, the VAE's
 * scale factor and scaling factor, whether the UNet is an inpainting one, the text width.
 */
export interface DiffusionModel {
  id: string;
  dir: string;
  provider: ProviderName;
  tokenizer: PromptTokenizer;
  textEncoder: ModelPart;
  unet: ModelPart;
  vaeDecoder: ModelPart;
  /** Loaded on first use: only the modes that start from an image need it. */
  vaeEncoder(): Promise<ModelPart>;
  safetyChecker?: ModelPart;
  schedulerConfig: Record<string, unknown>;
  latentChannels: number;
  vaeScaleFactor: number;
  scalingFactor: number;
  /** latentChannels for an ordinary UNet; 2 * latentChannels + 1 for an inpainting one. */
  unetInChannels: number;
  /** A fixed batch size the UNet was exported with, when it has one. */
  unetBatch?: number;
  loadMs: number;
  release(): Promise<void>;
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

function fixedDim(spec: InputSpec, axis: number): number | undefined {
  const d = spec.shape[axis];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

export async function loadDiffusionModel(
  id: string,
  dir: string,
  providers: ProviderChooser,
): Promise<DiffusionModel> {
  const started = performance.now();
  const opened: InferenceSession[] = [];
  const open = async (part: string) => {
    const loaded = await providers.open(join(dir, part, 'model.onnx'), `${part}/model.onnx`);
    opened.push(loaded.session);
    return loaded;
  };
  try {
    const schedulerConfig = (await readJson(join(dir, 'scheduler', 'scheduler_config.json'), true))!;
    const unetConfig = (await readJson(join(dir, 'unet', 'config.json'), false)) ?? {};
    const vaeConfig =
      (await readJson(join(dir, 'vae_decoder', 'config.json'), false)) ??
      (await readJson(join(dir, 'vae', 'config.json'), false)) ??
      {};

    const text = await open('text_encoder');
    const ids = requireInput(text.session, 'text_encoder', 'input_ids');
    const textEncoder: ModelPart = {
      session: text.session,
      inputs: { input_ids: ids },
      output: requireOutput(text.session, 'text_encoder', ['last_hidden_state']),
    };
    const maxLength = fixedDim(ids, 1) ?? 77;
    const tokenizer = await PromptTokenizer.load(join(dir, 'tokenizer'), maxLength);

    const unetLoaded = await open('unet');
    const unetInputs = {
      sample: requireInput(unetLoaded.session, 'unet', 'sample'),
      timestep: requireInput(unetLoaded.session, 'unet', 'timestep'),
      encoder_hidden_states: requireInput(unetLoaded.session, 'unet', 'encoder_hidden_states'),
    };
    requireFloat(unetInputs.sample, 'unet');
    requireFloat(unetInputs.encoder_hidden_states, 'unet');
    const unet: ModelPart = {
      session: unetLoaded.session,
      inputs: unetInputs,
      output: requireOutput(unetLoaded.session, 'unet', ['out_sample']),
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
      positiveInt(unetConfig.out_channels) ??
      fixedDim(latentInput, 1);
    if (latentChannels === undefined) {
      throw new CodedError(
        'model-invalid',
        `${dir}: cannot tell the latent channels (no vae_decoder/config.json latent_channels, no fixed channel dimension)`,
      );
    }
    requireDim(latentInput, 'vae_decoder', 1, latentChannels, 'latent channels');
    const unetInChannels =
      positiveInt(unetConfig.in_channels) ?? fixedDim(unetInputs.sample, 1) ?? latentChannels;
    requireDim(unetInputs.sample, 'unet', 1, unetInChannels, 'channels');
    if (unetInChannels !== latentChannels && unetInChannels !== latentChannels * 2 + 1) {
      throw new CodedError(
        'model-invalid',
        `unet takes ${unetInChannels} channels but the VAE has ${latentChannels} latent channels ` +
          `(expected ${latentChannels}, or ${latentChannels * 2 + 1} for inpainting)`,
      );
    }
    const textWidth = outputWidth(text.session);
    if (textWidth !== undefined)
      requireDim(unetInputs.encoder_hidden_states, 'unet', 2, textWidth, 'text width');

    const blocks = Array.isArray(vaeConfig.block_out_channels)
      ? vaeConfig.block_out_channels.length
      : undefined;
    const vaeScaleFactor =
      blocks !== undefined && blocks > 0
        ? 2 ** (blocks - 1)
        : await probeScaleFactor(vaeDecoder, latentChannels);
    const scalingFactor = typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : 0.18215;

    let safetyChecker: ModelPart | undefined;
    if (existsSync(join(dir, 'safety_checker', 'model.onnx'))) {
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

    const unetBatch = fixedDim(unetInputs.sample, 0);
    const model: DiffusionModel = {
      id,
      dir,
      provider: unetLoaded.provider,
      tokenizer,
      textEncoder,
      unet,
      vaeDecoder,
      vaeEncoder,
      schedulerConfig,
      latentChannels,
      vaeScaleFactor,
      scalingFactor,
      unetInChannels,
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

function outputWidth(session: InferenceSession): number | undefined {
  const meta = session.outputMetadata.find((m) => m.name === 'last_hidden_state');
  if (meta === undefined || !meta.isTensor) return undefined;
  const d = meta.shape[2];
  return typeof d === 'number' ? d : undefined;
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
