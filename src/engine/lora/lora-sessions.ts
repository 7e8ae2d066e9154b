import type { InferenceSession } from 'onnxruntime-node';
import type { Logger } from '../../log/logger.ts';
import type { LoraComponent } from './lora-keys.ts';
import { type LoraMatchReport, type LoraModels, type LoraRequest, mergeLoras } from './lora-merge.ts';
import type { PatchedTensor } from './onnx-model-weights.ts';
import { createPatchedSession, type PatchOptions } from './patched-session.ts';
import { MemoryBoundedCache, type Sized } from './session-cache.ts';

/** The sessions of the model parts a LoRA combination patches; the other parts keep their own. */
export interface LoraSessions {
  sessions: Map<LoraComponent, InferenceSession>;
  reports: LoraMatchReport[];
}

/** One key per model and set of LoRAs with strengths, whatever order the prompt named them in. */
export function loraCombinationKey(modelId: string, loras: LoraRequest[]): string {
  const parts = loras.map((l) => `${l.name}:${l.strength}`).sort();
  return `${modelId}|${parts.join(',')}`;
}

export function createLoraSessionCache<V extends LoraSessions = LoraSessions>(
  budgetBytes: number,
): MemoryBoundedCache<V> {
  return new MemoryBoundedCache<V>(budgetBytes, async ({ sessions }) => {
    await Promise.all([...sessions.values()].map((session) => session.release()));
  });
}

/** Merges the LoRAs and opens a session of each patched part, logging the time each step took. */
export async function buildLoraSessions(
  models: LoraModels,
  loras: LoraRequest[],
  logger: Logger,
  sessionOptions: InferenceSession.SessionOptions = {},
  patchOptions: PatchOptions = {},
  /** Other replaced initializers of the same parts (an embedding's longer token table). */
  extraPatches: ReadonlyMap<LoraComponent, ReadonlyMap<string, PatchedTensor>> = new Map(),
): Promise<Sized<LoraSessions>> {
  const merged = await mergeLoras(models, loras);
  for (const [component, extra] of extraPatches) {
    const patches = merged.patches.get(component) ?? new Map<string, PatchedTensor>();
    for (const [name, tensor] of extra) patches.set(name, tensor);
    merged.patches.set(component, patches);
  }
  for (const report of merged.reports) {
    if (report.matched < report.total) {
      logger.warn(report, `LoRA "${report.name}" patches ${report.matched} of its ${report.total} layers`);
    }
  }
  const began = performance.now();
  const sessions = new Map<LoraComponent, InferenceSession>();
  let bytes = 0;
  try {
    for (const [component, patches] of merged.patches) {
      const weights = models[component]!;
      sessions.set(component, await createPatchedSession(weights, patches, sessionOptions, patchOptions));
      bytes += weights.totalWeightBytes();
    }
  } catch (error) {
    await Promise.all([...sessions.values()].map((session) => session.release()));
    throw error;
  }
  logger.info(
    {
      loras: loras.map((l) => `${l.name}:${l.strength}`),
      mergeMs: Math.round(merged.mergeMs),
      sessionMs: Math.round(performance.now() - began),
      affectedMB: Math.round(merged.affectedBytes / 1e5) / 10,
      parts: [...merged.patches].map(([component, patches]) => `${component}: ${patches.size} weights`),
    },
    loras.length > 0 ? 'LoRAs merged' : 'embeddings added',
  );
  return { value: { sessions, reports: merged.reports }, bytes };
}
