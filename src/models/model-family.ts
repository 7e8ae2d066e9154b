import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodedError } from '../errors/coded-error.ts';

/**
 * The model families easel renders, told apart by a folder's `model_index.json` (and, between SD 1
 * and SD 2, the UNet's config), never by the folder's name:
 * - `sd1`: one CLIP-L text encoder + UNet (SD 1.x, easel-mini);
 * - `sd2`: one OpenCLIP-H text encoder + UNet (SD 2.x; 768 px ones predict v, see `predictionType`);
 * - `sdxl`: CLIP-L + OpenCLIP-G (`text_encoder_2`) + UNet with `text_embeds` and `time_ids`;
 * - `sdxl-refiner`: OpenCLIP-G only, UNet `time_ids` with an aesthetic score;
 * - `sd3`: CLIP-L + CLIP-G + optional T5 (`text_encoder_3`) + an MMDiT `transformer/`, 16 latent channels.
 */
export type ModelFamily = 'sd1' | 'sd2' | 'sdxl' | 'sdxl-refiner' | 'sd3';

export const MODEL_FAMILIES: readonly ModelFamily[] = ['sd1', 'sd2', 'sdxl', 'sdxl-refiner', 'sd3'];

/** How `easel doctor` and `easel models list` name a family. */
export const FAMILY_LABELS: Record<ModelFamily, string> = {
  sd1: 'Stable Diffusion 1.x',
  sd2: 'Stable Diffusion 2.x',
  sdxl: 'Stable Diffusion XL',
  'sdxl-refiner': 'Stable Diffusion XL refiner',
  sd3: 'Stable Diffusion 3',
};

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample' | 'flow';

/** A text encoder with its tokenizer, as the folder holds them (`text_encoder_2` + `tokenizer_2`). */
export interface TextComponent {
  encoder: string;
  tokenizer: string;
  /** T5 in SD3 may be left out: the pipeline then uses zeros, as diffusers does. */
  optional: boolean;
  /** Whether its model.onnx is in the folder (always true for a required one, once detected). */
  present: boolean;
}

export interface FamilyLayout {
  family: ModelFamily;
  /** From scheduler_config.json (`flow` for flow-matching schedulers). */
  predictionType: PredictionType;
  /** In the order the pipeline uses them (CLIP-L, then CLIP-G, then T5). */
  text: TextComponent[];
  /** `unet` or `transformer`. */
  denoiser: 'unet' | 'transformer';
  /** SDXL's `force_zeros_for_empty_prompt` (true by default in diffusers' SDXL pipelines). */
  forceZerosForEmptyPrompt: boolean;
  /** `requires_aesthetics_score` (the refiner's: time_ids of five numbers; the UNet's shape has the last word). */
  requiresAestheticsScore: boolean;
  /** model_index.json's `_class_name`, for messages. */
  className: string;
}

type Json = Record<string, unknown>;

function readJsonSync(path: string): Json | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (error) {
    throw new CodedError('model-invalid', `${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** model_index.json names a component as [library, class], or [null, null] when it is left out. */
function listed(index: Json, name: string): boolean {
  const value = index[name];
  return Array.isArray(value) && value[0] !== null && value[1] !== null;
}

function onnxPresent(dir: string, part: string): boolean {
  return existsSync(join(dir, part, 'model.onnx'));
}

function tokenizerPresent(dir: string, part: string): boolean {
  return (
    existsSync(join(dir, part, 'tokenizer.json')) ||
    (existsSync(join(dir, part, 'vocab.json')) && existsSync(join(dir, part, 'merges.txt'))) ||
    // T5's SentencePiece tokenizer, when no tokenizer.json was saved.
    existsSync(join(dir, part, 'spiece.model'))
  );
}

function predictionOf(scheduler: Json | undefined): PredictionType {
  const className = typeof scheduler?._class_name === 'string' ? scheduler._class_name : '';
  if (className.startsWith('FlowMatch')) return 'flow';
  const p = scheduler?.prediction_type;
  return p === 'v_prediction' || p === 'sample' ? p : 'epsilon';
}

/**
 * SD 2 differs from SD 1 in the text encoder (OpenCLIP-H, 1024 wide) and the UNet's linear
 * projections; the UNet config says both (diffusers' convert script sets `use_linear_projection`
 * for v2). Without a UNet config the folder is taken for SD 1 and the loader checks widths.
 */
function isSd2(dir: string): boolean {
  const unet = readJsonSync(join(dir, 'unet', 'config.json'));
  if (unet === undefined) return false;
  return unet.cross_attention_dim === 1024 || unet.use_linear_projection === true;
}

function text(encoder: string, tokenizer: string, optional = false): TextComponent {
  return { encoder, tokenizer, optional, present: true };
}

/** A Stable Diffusion pipeline class (diffusers', the ONNX ones, Optimum's ORT ones), or none given. */
const SD_CLASS = /StableDiffusion|LatentConsistencyModel/;

interface Classified {
  layout: FamilyLayout;
  scheduler: Json | undefined;
}

function classify(dir: string): Classified {
  const index = readJsonSync(join(dir, 'model_index.json'));
  if (index === undefined) {
    throw new CodedError(
      'model-missing',
      `${join(dir, 'model_index.json')} is missing: easel tells a model's family from it`,
    );
  }
  const named = typeof index._class_name === 'string' ? index._class_name : undefined;
  const className = named ?? '(no _class_name)';
  const scheduler = readJsonSync(join(dir, 'scheduler', 'scheduler_config.json'));
  const has = (name: string) => listed(index, name) || onnxPresent(dir, name);
  const noFamily = () =>
    new CodedError(
      'model-invalid',
      `${dir} matches no model family easel knows (SD 1.x, SD 2.x, SDXL, SDXL refiner, SD 3): ` +
        `model_index.json's _class_name is ${className}` +
        (named !== undefined && !SD_CLASS.test(named)
          ? ''
          : ' and it lists neither a unet with a text_encoder, nor text_encoder_2, nor a transformer'),
    );
  if (named !== undefined && !SD_CLASS.test(named)) throw noFamily();

  let family: ModelFamily;
  let texts: TextComponent[];
  let denoiser: 'unet' | 'transformer' = 'unet';
  if (/StableDiffusion3/.test(className) || (has('transformer') && has('text_encoder_2'))) {
    family = 'sd3';
    denoiser = 'transformer';
    texts = [
      text('text_encoder', 'tokenizer'),
      text('text_encoder_2', 'tokenizer_2'),
      text('text_encoder_3', 'tokenizer_3', true),
    ];
  } else if (/XL/.test(className) || has('text_encoder_2')) {
    const refiner = !has('text_encoder');
    family = refiner ? 'sdxl-refiner' : 'sdxl';
    texts = refiner
      ? [text('text_encoder_2', 'tokenizer_2')]
      : [text('text_encoder', 'tokenizer'), text('text_encoder_2', 'tokenizer_2')];
  } else if (has('unet') && has('text_encoder')) {
    family = isSd2(dir) ? 'sd2' : 'sd1';
    texts = [text('text_encoder', 'tokenizer')];
  } else {
    throw noFamily();
  }
  for (const t of texts) t.present = onnxPresent(dir, t.encoder);
  const xl = family === 'sdxl' || family === 'sdxl-refiner';
  return {
    scheduler,
    layout: {
      family,
      predictionType: predictionOf(scheduler),
      text: texts,
      denoiser,
      forceZerosForEmptyPrompt: xl && index.force_zeros_for_empty_prompt !== false,
      requiresAestheticsScore: index.requires_aesthetics_score === true,
      className,
    },
  };
}

/** The files (relative to the folder) the family needs and the folder lacks, first the most telling. */
function missingFiles({ layout, scheduler }: Classified, dir: string, needsImageEncoder: boolean): string[] {
  const missing: string[] = [];
  if (scheduler === undefined) missing.push('scheduler/scheduler_config.json');
  for (const t of layout.text) {
    // A T5 left out on purpose ([null, null] in model_index.json, or no folder) is fine; a present
    // encoder without its tokenizer is a broken download.
    if (!t.present) {
      if (!t.optional) missing.push(`${t.encoder}/model.onnx`);
      continue;
    }
    if (!tokenizerPresent(dir, t.tokenizer)) missing.push(`${t.tokenizer}/tokenizer.json`);
  }
  if (!onnxPresent(dir, layout.denoiser)) missing.push(`${layout.denoiser}/model.onnx`);
  if (!onnxPresent(dir, 'vae_decoder')) missing.push('vae_decoder/model.onnx');
  if (needsImageEncoder && !onnxPresent(dir, 'vae_encoder')) missing.push('vae_encoder/model.onnx');
  return missing;
}

/**
 * Which family the folder holds and which of its components the pipeline will use, or a
 * `model-invalid` error for a folder that matches no family and a `model-missing` one naming the
 * missing components of the family it does match. `needsImageEncoder`: only modes that start from
 * a picture need `vae_encoder/`.
 */
export function detectModelFamily(dir: string, needsImageEncoder = false): FamilyLayout {
  const classified = classify(dir);
  const missing = missingFiles(classified, dir, needsImageEncoder);
  if (missing.length > 0) {
    const { layout } = classified;
    throw new CodedError(
      'model-missing',
      `${dir} is a ${FAMILY_LABELS[layout.family]} model (model_index.json: ${layout.className}) but ` +
        `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`,
    );
  }
  return classified.layout;
}

/**
 * The files of its family a folder lacks; undefined when the folder has no model_index.json or
 * matches no family (the caller falls back to its own list; loading gives the family error).
 */
export function missingFamilyFiles(dir: string, needsImageEncoder = true): string[] | undefined {
  try {
    return missingFiles(classify(dir), dir, needsImageEncoder);
  } catch (error) {
    if (error instanceof CodedError) return undefined;
    throw error;
  }
}

/** The ONNX parts (folders holding model.onnx) a detected layout uses. */
export function familyParts(layout: FamilyLayout, withImageEncoder: boolean): string[] {
  const parts = layout.text.filter((t) => t.present).map((t) => t.encoder);
  parts.push(layout.denoiser, 'vae_decoder');
  if (withImageEncoder) parts.push('vae_encoder');
  return parts;
}
