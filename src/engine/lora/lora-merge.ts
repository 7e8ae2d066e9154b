import { UserError } from '../../errors/user-error.ts';
import type { ModelFamily } from '../../models/model-family.ts';
import { LORA_STRENGTH_LIMIT } from '../../request/limits.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import { sgmToDiffusersFlat } from './kohya-sgm-names.ts';
import { type LoraModule, loraLayout } from './lora-file.ts';
import type { LoraComponent } from './lora-keys.ts';
import {
  encodeFloats,
  type ModuleWeight,
  type OnnxModelWeights,
  type PatchedTensor,
} from './onnx-model-weights.ts';

/**
 * Merging LoRAs into a model's weights: W' = W + Σ strength × (alpha / rank) × up · down for every
 * layer a LoRA patches, each LoRA with its own strength. The sum is taken in float64 and rounded
 * once into the weight's own type (float32 or float16), so the order LoRAs are given in does not
 * change the result beyond that rounding.
 */

export interface LoraRequest {
  /** The name members use (the file name without `.safetensors`). */
  name: string;
  path: string;
  strength: number;
}

/** The parts of one model a LoRA can patch, each an ONNX model of the export. */
export type LoraModels = Partial<Record<LoraComponent, OnnxModelWeights>>;

export interface LoraMatchReport {
  name: string;
  /** Layers patched, and layers the file holds. */
  matched: number;
  total: number;
  /** Layers (or keys) that patch nothing, by key prefix: `lora_te2: 64`. */
  unmatched: Record<string, number>;
}

export interface LoraMerge {
  /** The replaced initializers of each model part, by initializer name. */
  patches: Map<LoraComponent, Map<string, PatchedTensor>>;
  reports: LoraMatchReport[];
  /** Bytes of the weights rewritten. */
  affectedBytes: number;
  mergeMs: number;
}

interface Target {
  component: LoraComponent;
  weights: OnnxModelWeights;
  weight: ModuleWeight;
}

interface Contribution {
  file: SafetensorsFile;
  module: LoraModule;
  strength: number;
}

function refuse(message: string): UserError {
  return new UserError('invalid-request', message, { fields: [{ field: 'lora', message }] });
}

function checkLoraStrength(name: string, strength: number): void {
  if (!Number.isFinite(strength) || Math.abs(strength) > LORA_STRENGTH_LIMIT) {
    const message = `LoRA strength for "${name}" must be between -${LORA_STRENGTH_LIMIT} and ${LORA_STRENGTH_LIMIT} (got ${strength})`;
    throw new UserError('invalid-request', message, { fields: [{ field: 'lora_strength', message }] });
  }
}

function resolve(models: LoraModels, module: LoraModule): Target | undefined {
  const weights = models[module.component];
  if (weights === undefined) return undefined;
  let path: string | undefined = module.flat ? weights.flatModules.get(module.module) : module.module;
  if (module.flat && path === undefined && module.component === 'unet') {
    const renamed = sgmToDiffusersFlat(module.module, (block, layer) =>
      [...weights.flatModules.keys()].some((flat) =>
        flat.startsWith(`up_blocks_${block}_attentions_${layer}_`),
      ),
    );
    if (renamed !== undefined) path = weights.flatModules.get(renamed);
  }
  const weight = path === undefined ? undefined : weights.modules.get(path);
  return weight && { component: module.component, weights, weight };
}

/** The weight's [out, in…] sizes, whatever its layout. */
function outIn(target: Target): { out: number; inDims: number[] } {
  const dims = target.weights.initializers.get(target.weight.initializer)!.dims;
  if (target.weight.layout === 'in-out') return { out: dims[1]!, inDims: [dims[0]!] };
  return { out: dims[0]!, inDims: dims.slice(1) };
}

const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * Whether the LoRA's matrices fit the weight: down [rank, in…], up [out, rank, 1…]. A Linear LoRA
 * fits a 1×1 Conv and a 1×1 conv LoRA fits a Linear (SD 1.x's proj_in is a Conv, SD 2.x's a Linear).
 */
function fits(module: LoraModule, target: Target): boolean {
  const { out, inDims } = outIn(target);
  const [rank, ...downIn] = module.down.shape;
  const [upOut, upRank, ...upRest] = module.up.shape;
  if (rank === undefined || upOut !== out || upRank !== rank || upRest.some((d) => d !== 1)) return false;
  const squeeze = (dims: number[]) => {
    const trimmed = [...dims];
    while (trimmed.length > 1 && trimmed.at(-1) === 1) trimmed.pop();
    return trimmed.join('x');
  };
  return squeeze(downIn) === squeeze(inDims);
}

function describe(module: LoraModule, target: Target): string {
  const { out, inDims } = outIn(target);
  return `${target.weight.module}: LoRA ${module.down.shape.slice(1).join('x')}→${module.up.shape[0]}, model ${inDims.join('x')}→${out}`;
}

/** How refusals name the family a LoRA looks trained for. */
export const LORA_FAMILY_NAMES: Partial<Record<ModelFamily, string>> = {
  sd1: 'SD 1.x',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
};

/**
 * Which family a LoRA was trained for: its cross-attention width says it best (768 for SD 1.x, 1024
 * for SD 2.x, 2048 for SDXL); without one, a second text encoder or Stability's SDXL block names.
 */
export function guessLoraFamily(modules: LoraModule[]): ModelFamily | undefined {
  const crossAttention = modules.find((m) => m.component === 'unet' && /attn2[._]to_k$/.test(m.module));
  const width = crossAttention?.down.shape[1];
  if (width === 768) return 'sd1';
  if (width === 1024) return 'sd2';
  if (width === 2048) return 'sdxl';
  const sdxl = (m: LoraModule) =>
    m.component === 'text_encoder_2' || /input_blocks|label_emb|add_embedding/.test(m.module);
  return modules.some(sdxl) ? 'sdxl' : undefined;
}

/** Matches one LoRA's layers to the model, refusing it when nothing or something misfitting matches. */
function match(
  models: LoraModels,
  request: LoraRequest,
  file: SafetensorsFile,
): { targets: [LoraModule, Target][]; report: LoraMatchReport } {
  const layout = loraLayout(file);
  const targets: [LoraModule, Target][] = [];
  const misfits: string[] = [];
  const unmatched: Record<string, number> = Object.fromEntries(layout.unread);
  for (const module of layout.modules) {
    const target = resolve(models, module);
    if (target === undefined) unmatched[module.prefix] = (unmatched[module.prefix] ?? 0) + 1;
    else if (!fits(module, target)) misfits.push(describe(module, target));
    else targets.push([module, target]);
  }
  const family = guessLoraFamily(layout.modules);
  const trained = family ? `; it looks like an ${LORA_FAMILY_NAMES[family]} LoRA` : '';
  if (misfits.length > 0) {
    throw refuse(
      `LoRA "${request.name}" does not fit this model: ${misfits.length} of its layers have other sizes (${misfits[0]})${trained}`,
    );
  }
  if (targets.length === 0) {
    const kinds =
      layout.unsupported.size > 0
        ? ` It uses ${[...layout.unsupported].join(', ')} (LyCORIS), which easel does not merge.`
        : '';
    const prefixes =
      Object.entries(unmatched)
        .map(([prefix, n]) => `${prefix} (${n})`)
        .join(', ') || 'none';
    throw refuse(
      `LoRA "${request.name}" matches no layer of this model (its keys: ${prefixes})${trained}.${kinds}`,
    );
  }
  const total = layout.modules.length + [...layout.unread.values()].reduce((a, b) => a + b, 0);
  return { targets, report: { name: request.name, matched: targets.length, total, unmatched } };
}

async function scalar(file: SafetensorsFile, module: LoraModule): Promise<number | undefined> {
  if (module.alpha === undefined) return undefined;
  return (await file.readFloat32(module.alpha.name))[0];
}

/** Adds one LoRA layer's strength × scale × up · down to a weight held as float64. */
async function accumulate(
  sum: Float64Array,
  target: Target,
  { file, module, strength }: Contribution,
): Promise<void> {
  const down = await file.readFloat32(module.down.name);
  const up = await file.readFloat32(module.up.name);
  const rank = module.down.shape[0]!;
  const inner = product(module.down.shape.slice(1));
  const out = module.up.shape[0]!;
  const alpha = (await scalar(file, module)) ?? rank;
  const coefficient = (strength * alpha) / rank;
  const transposed = target.weight.layout === 'in-out';
  const row = new Float64Array(inner);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    // Four ranks a pass: the row is read and written a quarter as often (the loop is memory-bound).
    let k = 0;
    for (; k + 4 <= rank; k += 4) {
      const u0 = up[o * rank + k]!;
      const u1 = up[o * rank + k + 1]!;
      const u2 = up[o * rank + k + 2]!;
      const u3 = up[o * rank + k + 3]!;
      const d0 = k * inner;
      const d1 = d0 + inner;
      const d2 = d1 + inner;
      const d3 = d2 + inner;
      for (let i = 0; i < inner; i++) {
        row[i]! += u0 * down[d0 + i]! + u1 * down[d1 + i]! + u2 * down[d2 + i]! + u3 * down[d3 + i]!;
      }
    }
    for (; k < rank; k++) {
      const u = up[o * rank + k]!;
      const offset = k * inner;
      for (let i = 0; i < inner; i++) row[i]! += u * down[offset + i]!;
    }
    if (transposed) for (let i = 0; i < inner; i++) sum[i * out + o]! += coefficient * row[i]!;
    else {
      const base = o * inner;
      for (let i = 0; i < inner; i++) sum[base + i]! += coefficient * row[i]!;
    }
  }
}

/**
 * Merges the LoRAs into the model's weights and returns the replaced initializers. Every LoRA is
 * matched before any tensor is read, so a bad one is refused without work; a LoRA that matches only
 * part of the model is merged and reported with its counts.
 */
export async function mergeLoras(models: LoraModels, requests: LoraRequest[]): Promise<LoraMerge> {
  for (const request of requests) checkLoraStrength(request.name, request.strength);
  const began = performance.now();
  const files: SafetensorsFile[] = [];
  try {
    const byWeight = new Map<string, { target: Target; contributions: Contribution[] }>();
    const reports: LoraMatchReport[] = [];
    for (const request of requests) {
      const file = await SafetensorsFile.open(request.path);
      files.push(file);
      const { targets, report } = match(models, request, file);
      reports.push(report);
      for (const [module, target] of targets) {
        const id = `${target.component}:${target.weight.initializer}`;
        const entry = byWeight.get(id) ?? { target, contributions: [] };
        entry.contributions.push({ file, module, strength: request.strength });
        byWeight.set(id, entry);
      }
    }
    const patches = new Map<LoraComponent, Map<string, PatchedTensor>>();
    let affectedBytes = 0;
    for (const { target, contributions } of byWeight.values()) {
      const { initializer } = target.weight;
      const { dataType, dims } = target.weights.initializers.get(initializer)!;
      const sum = new Float64Array(await target.weights.readFloat32(initializer));
      for (const contribution of contributions) await accumulate(sum, target, contribution);
      const bytes = encodeFloats(new Float32Array(sum), dataType);
      affectedBytes += bytes.length;
      const component = patches.get(target.component) ?? new Map<string, PatchedTensor>();
      component.set(initializer, { dataType, dims, bytes });
      patches.set(target.component, component);
    }
    return { patches, reports, affectedBytes, mergeMs: performance.now() - began };
  } finally {
    await Promise.all(files.map((file) => file.close()));
  }
}
