import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildNsfwClassifier,
  buildSafetyChecker,
  buildTextEncoder,
  buildUnet,
  buildUpscaler,
  buildVaeDecoder,
  buildVaeEncoder,
  type IoDtype,
  type TimestepVariant,
  type VaeLayout,
} from './tiny-models.ts';
import { tinyTokenizerConfig, tinyTokenizerJson, tinyVocabSize } from './tiny-tokenizer.ts';

export interface TinyModelOptions {
  /** 4 for an ordinary UNet, 9 for an inpainting one (latents + mask + masked-image latents). */
  unetChannels?: 4 | 9;
  timestep?: TimestepVariant;
  /** fp16 I/O on the UNet, the text encoder's output and the VAE (Uint16Array in JS). */
  dtype?: IoDtype;
  idsType?: 'int32' | 'int64';
  /** `sd`: 4 latent channels, factor 8, epsilon; `pixel-shuffle`: easel-mini's 12 channels, factor 2, v-prediction. */
  layout?: VaeLayout;
  safetyChecker?: boolean;
  /** A UNet exported for one latent size only. */
  fixedLatentSize?: number;
  /** The benchmark's heavier networks: UNet feature channels (8) and its VAE decoder block (benchDecoderBlock). */
  unetWidth?: number;
  vaeDecoderWidth?: number;
  /** A UNet exported for one batch size only. */
  fixedBatch?: number;
  /** A text encoder exported with `hidden_states.N` outputs and a final LayerNorm (clip skip). */
  hiddenStates?: boolean;
}

const CONTEXT_DIM = 32;

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

async function writePart(dir: string, part: string, onnx: Uint8Array, config?: unknown): Promise<void> {
  await mkdir(join(dir, part), { recursive: true });
  await writeFile(join(dir, part, 'model.onnx'), onnx);
  if (config !== undefined) await writeJson(join(dir, part, 'config.json'), config);
}

/**
 * Writes a complete tiny model folder in the diffusers/Optimum ONNX layout: what `easel models
 * tiny` installs for smoke tests and what the engine tests render with.
 */
export async function writeTinyModel(dir: string, options: TinyModelOptions = {}): Promise<void> {
  const layout = options.layout ?? 'sd';
  const latentChannels = layout === 'sd' ? 4 : 12;
  const blockOut = layout === 'sd' ? [8, 8, 8, 8] : [12, 12];
  const unetChannels = options.unetChannels === 9 ? latentChannels * 2 + 1 : latentChannels;
  const dtype = options.dtype ?? 'float32';
  await mkdir(dir, { recursive: true });
  await writeJson(join(dir, 'model_index.json'), {
    _class_name:
      unetChannels === latentChannels ? 'OnnxStableDiffusionPipeline' : 'OnnxStableDiffusionInpaintPipeline',
    _diffusers_version: '0.30.0',
    scheduler: ['diffusers', layout === 'sd' ? 'PNDMScheduler' : 'DDIMScheduler'],
    text_encoder: ['diffusers', 'OnnxRuntimeModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'OnnxRuntimeModel'],
    vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    vae_encoder: ['diffusers', 'OnnxRuntimeModel'],
    safety_checker: options.safetyChecker === false ? [null, null] : ['diffusers', 'OnnxRuntimeModel'],
    feature_extractor: [null, null],
    requires_safety_checker: options.safetyChecker !== false,
  });
  await mkdir(join(dir, 'scheduler'), { recursive: true });
  await writeJson(
    join(dir, 'scheduler', 'scheduler_config.json'),
    layout === 'sd'
      ? {
          _class_name: 'PNDMScheduler',
          num_train_timesteps: 1000,
          beta_start: 0.00085,
          beta_end: 0.012,
          beta_schedule: 'scaled_linear',
          set_alpha_to_one: false,
          skip_prk_steps: true,
          steps_offset: 1,
          clip_sample: false,
          prediction_type: 'epsilon',
          timestep_spacing: 'leading',
          trained_betas: null,
        }
      : {
          _class_name: 'DDIMScheduler',
          num_train_timesteps: 1000,
          beta_schedule: 'squaredcos_cap_v2',
          clip_sample: true,
          clip_sample_range: 1,
          set_alpha_to_one: true,
          steps_offset: 0,
          prediction_type: 'v_prediction',
          timestep_spacing: 'leading',
        },
  );
  await mkdir(join(dir, 'tokenizer'), { recursive: true });
  await writeJson(join(dir, 'tokenizer', 'tokenizer.json'), tinyTokenizerJson());
  await writeJson(join(dir, 'tokenizer', 'tokenizer_config.json'), tinyTokenizerConfig());
  await writePart(
    dir,
    'text_encoder',
    buildTextEncoder({
      vocabSize: tinyVocabSize(),
      hidden: CONTEXT_DIM,
      idsType: options.idsType ?? 'int32',
      dtype,
      hiddenStates: options.hiddenStates === true,
    }),
    { hidden_size: CONTEXT_DIM, max_position_embeddings: 77, vocab_size: tinyVocabSize() },
  );
  await writePart(
    dir,
    'unet',
    buildUnet({
      inChannels: unetChannels,
      outChannels: latentChannels,
      contextDim: CONTEXT_DIM,
      timestep: options.timestep ?? 'int64',
      dtype,
      ...(options.fixedLatentSize !== undefined ? { fixedSize: options.fixedLatentSize } : {}),
      ...(options.unetWidth !== undefined ? { width: options.unetWidth } : {}),
      ...(options.fixedBatch !== undefined ? { fixedBatch: options.fixedBatch } : {}),
    }),
    { in_channels: unetChannels, out_channels: latentChannels, cross_attention_dim: CONTEXT_DIM },
  );
  const vaeConfig = {
    latent_channels: latentChannels,
    scaling_factor: layout === 'sd' ? 0.18215 : 1,
    block_out_channels: blockOut,
    in_channels: 3,
    out_channels: 3,
  };
  await writePart(dir, 'vae_decoder', buildVaeDecoder(layout, dtype, options.vaeDecoderWidth), vaeConfig);
  await writePart(dir, 'vae_encoder', buildVaeEncoder(layout, dtype), vaeConfig);
  if (options.safetyChecker !== false) await writePart(dir, 'safety_checker', buildSafetyChecker());
}

/** A Real-ESRGAN-layout x4 upscaler folder (`model.onnx` with `input` -> `output`). */
export async function writeTinyUpscaler(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.onnx'), buildUpscaler());
  await writeJson(join(dir, 'config.json'), { scale: 4, input_range: [0, 1] });
}

/** A two-class NSFW image classifier folder in the transformers ONNX layout. */
export async function writeTinyClassifier(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.onnx'), buildNsfwClassifier());
  await writeJson(join(dir, 'config.json'), { id2label: { '0': 'normal', '1': 'nsfw' } });
  await writeJson(join(dir, 'preprocessor_config.json'), {
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    size: { height: 224, width: 224 },
  });
}
