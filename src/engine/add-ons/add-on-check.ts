import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { CodedError } from '../../errors/coded-error.ts';
import { UserError } from '../../errors/user-error.ts';
import { type AddOnKind, addOnPath, installedAddOns } from '../../models/add-on-folders.ts';
import { FAMILY_LABELS, type ModelFamily } from '../../models/model-family.ts';
import type { GenerationRequest } from '../../request/types.ts';
import { mentionsEmbedding } from '../embeddings/add-embeddings.ts';
import { readTextualInversion, type TextualInversion } from '../embeddings/textual-inversion.ts';
import { loraLayout } from '../lora/lora-file.ts';
import { guessLoraFamily, LORA_FAMILY_NAMES, type LoraRequest } from '../lora/lora-merge.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';

/**
 * The LoRAs and embeddings of a request, found in MODELS_DIR and checked as far as their files
 * alone allow: installed, a readable safetensors file, keys of a LoRA format, weights of a type easel
 * reads, trained for the model's family. Run at admission (nothing is charged for a refusal) and
 * again in the worker, where the merge itself then checks every layer against the model.
 */
export interface RequestAddOns {
  loras: LoraRequest[];
  /** Installed embeddings the prompt or negative prompt names, and those named explicitly. */
  embeddings: (TextualInversion & { path: string })[];
}

const READABLE_DTYPES = new Set(['F32', 'F16', 'BF16']);

function refuse(field: string, message: string): UserError {
  return new UserError('invalid-request', message, { fields: [{ field, message }] });
}

function notInstalled(modelsDir: string, kind: AddOnKind, name: string): UserError {
  const installed = installedAddOns(modelsDir, kind).map((a) => a.name);
  const noun = kind === 'lora' ? 'LoRA' : 'embedding';
  const list = installed.length > 0 ? `installed: ${installed.slice(0, 20).join(', ')}` : `none is installed`;
  return refuse(
    kind === 'lora' ? 'lora' : 'embeddings',
    `${noun} "${name}" is not installed on this server (${list})`,
  );
}

/** A file's problem as the member reads it: by its name, never by the server's path. */
function unreadable(kind: AddOnKind, name: string, path: string, error: unknown): Error {
  if (!(error instanceof CodedError)) return error as Error;
  const why = error.message.replaceAll(path, basename(path));
  const noun = kind === 'lora' ? 'LoRA' : 'embedding';
  return refuse(kind === 'lora' ? 'lora' : 'embeddings', `${noun} "${name}" cannot be used: ${why}`);
}

function familyMismatch(name: string, trained: ModelFamily, family: ModelFamily): UserError | undefined {
  if (trained === family) return undefined;
  return refuse(
    'lora',
    `LoRA "${name}" is an ${LORA_FAMILY_NAMES[trained] ?? trained} LoRA and cannot be used with a ${FAMILY_LABELS[family]} model`,
  );
}

async function checkLoraFile(lora: LoraRequest, family: ModelFamily | undefined): Promise<void> {
  let file: SafetensorsFile;
  try {
    file = await SafetensorsFile.open(lora.path);
  } catch (error) {
    throw unreadable('lora', lora.name, lora.path, error);
  }
  try {
    const layout = loraLayout(file);
    if (layout.modules.length === 0) {
      const lycoris =
        layout.unsupported.size > 0
          ? ` It uses ${[...layout.unsupported].join(', ')} (LyCORIS), which easel does not merge.`
          : '';
      const keys = [...layout.unread].map(([prefix, n]) => `${prefix} (${n})`).join(', ') || 'none';
      throw refuse(
        'lora',
        `LoRA "${lora.name}" holds no LoRA layers easel can merge (its keys: ${keys}).${lycoris}`,
      );
    }
    for (const module of layout.modules) {
      for (const tensor of [module.down, module.up, module.alpha]) {
        if (tensor !== undefined && !READABLE_DTYPES.has(tensor.dtype)) {
          throw refuse(
            'lora',
            `LoRA "${lora.name}" stores "${tensor.name}" as ${tensor.dtype}; easel reads F32, F16 and BF16`,
          );
        }
      }
    }
    const trained = guessLoraFamily(layout.modules);
    const mismatch =
      trained !== undefined && family !== undefined ? familyMismatch(lora.name, trained, family) : undefined;
    if (mismatch !== undefined) throw mismatch;
  } finally {
    await file.close();
  }
}

/** An SDXL model reads both CLIP encoders: an embedding without clip_g vectors is for SD 1.x/2.x. */
function checkEmbeddingFamily(inversion: TextualInversion, family: ModelFamily | undefined): void {
  const sdxl = family === 'sdxl';
  const pair = inversion.vectors.text_encoder_2 !== undefined;
  if (family === undefined || family === 'sd3' || family === 'sdxl-refiner' || sdxl === pair) return;
  throw refuse(
    'embeddings',
    sdxl
      ? `embedding "${inversion.name}" is for SD 1.x/2.x (it has no clip_g vectors); ${FAMILY_LABELS[family]} models need SDXL embeddings`
      : `embedding "${inversion.name}" is an SDXL embedding (clip_l and clip_g); it cannot be used with a ${FAMILY_LABELS[family]} model`,
  );
}

/**
 * Finds and checks the request's add-ons. `family` is the model's, when known: a LoRA or embedding
 * trained for another family is refused by name.
 */
export async function requestAddOns(
  request: Pick<GenerationRequest, 'loras' | 'embeddings' | 'prompt' | 'negativePrompt'>,
  modelsDir: string,
  family: ModelFamily | undefined,
): Promise<RequestAddOns> {
  const loras: LoraRequest[] = [];
  for (const { name, strength } of request.loras ?? []) {
    const path = addOnPath(modelsDir, 'lora', name);
    if (!existsSync(path)) throw notInstalled(modelsDir, 'lora', name);
    loras.push({ name, path, strength });
  }
  for (const lora of loras) await checkLoraFile(lora, family);

  const wanted = new Map<string, string>();
  for (const name of request.embeddings ?? []) {
    const path = addOnPath(modelsDir, 'embedding', name);
    if (!existsSync(path)) throw notInstalled(modelsDir, 'embedding', name);
    wanted.set(name, path);
  }
  for (const installed of installedAddOns(modelsDir, 'embedding')) {
    const named = [request.prompt, request.negativePrompt].some((text) =>
      mentionsEmbedding(text, installed.name),
    );
    if (named) wanted.set(installed.name, installed.path);
  }
  const embeddings: (TextualInversion & { path: string })[] = [];
  for (const [name, path] of wanted) {
    let inversion: TextualInversion;
    try {
      inversion = await readTextualInversion(path);
    } catch (error) {
      throw unreadable('embedding', name, path, error);
    }
    checkEmbeddingFamily(inversion, family);
    embeddings.push({ ...inversion, path });
  }
  return { loras, embeddings };
}
