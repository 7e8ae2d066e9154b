import { basename } from 'node:path';
import { type AddOnKind, type InstalledAddOn, installedAddOns } from '../../models/add-on-folders.ts';
import type { ModelFamily } from '../../models/model-family.ts';
import { readTextualInversion } from '../embeddings/textual-inversion.ts';
import { loraLayout } from '../lora/lora-file.ts';
import { guessLoraFamily } from '../lora/lora-merge.ts';
import { withSafetensors } from '../safetensors/safetensors-file.ts';

/**
 * What `easel models list`, `GET /v1/models` and A1111's `/sdapi/v1/loras` and `/embeddings` show
 * of MODELS_DIR/loras and MODELS_DIR/embeddings: each file by the name members write, the family
 * it looks trained for (from its header alone), and why it cannot be used when its file is broken.
 */
export interface AddOnListing {
  kind: AddOnKind;
  name: string;
  file: string;
  bytes: number;
  family?: ModelFamily;
  /** Embeddings: vectors per encoder and their widths ([768] for SD 1.x, [768, 1280] for SDXL). */
  vectors?: number;
  widths?: number[];
  /** kohya's training metadata names the base model (`ss_base_model_version`), when present. */
  baseModel?: string;
  problem?: string;
}

async function describeLora(installed: InstalledAddOn): Promise<AddOnListing> {
  const listing: AddOnListing = {
    kind: 'lora',
    name: installed.name,
    file: basename(installed.path),
    bytes: installed.bytes,
  };
  try {
    await withSafetensors(installed.path, async (file) => {
      const layout = loraLayout(file);
      if (layout.modules.length === 0) listing.problem = 'holds no LoRA layers easel can merge';
      const family = guessLoraFamily(layout.modules);
      if (family !== undefined) listing.family = family;
      const base = file.metadata.ss_base_model_version;
      if (typeof base === 'string') listing.baseModel = base;
    });
  } catch (error) {
    listing.problem = (error as Error).message.replaceAll(installed.path, listing.file);
  }
  return listing;
}

async function describeEmbedding(installed: InstalledAddOn): Promise<AddOnListing> {
  const listing: AddOnListing = {
    kind: 'embedding',
    name: installed.name,
    file: basename(installed.path),
    bytes: installed.bytes,
  };
  try {
    const inversion = await readTextualInversion(installed.path);
    const parts = [inversion.vectors.text_encoder, inversion.vectors.text_encoder_2].filter(
      (v) => v !== undefined,
    );
    listing.vectors = parts[0]?.length ?? 0;
    listing.widths = parts.map((vectors) => vectors[0]?.length ?? 0);
    const width = listing.widths[0];
    if (parts.length === 2) listing.family = 'sdxl';
    else if (width === 768) listing.family = 'sd1';
    else if (width === 1024) listing.family = 'sd2';
  } catch (error) {
    listing.problem = (error as Error).message.replaceAll(installed.path, listing.file);
  }
  return listing;
}

/** One file's listing, e.g. to check a download before keeping it. */
export function describeAddOn(kind: AddOnKind, installed: InstalledAddOn): Promise<AddOnListing> {
  return kind === 'lora' ? describeLora(installed) : describeEmbedding(installed);
}

export async function listAddOns(
  modelsDir: string,
): Promise<{ loras: AddOnListing[]; embeddings: AddOnListing[] }> {
  return {
    loras: await Promise.all(installedAddOns(modelsDir, 'lora').map(describeLora)),
    embeddings: await Promise.all(installedAddOns(modelsDir, 'embedding').map(describeEmbedding)),
  };
}
