import { requestAddOns } from '../engine/add-ons/add-on-check.ts';
import { mentionsEmbedding } from '../engine/embeddings/add-embeddings.ts';
import { installedAddOnNames } from '../models/add-on-folders.ts';
import { detectModelFamily, type ModelFamily } from '../models/model-family.ts';
import { modelFolder } from '../models/model-folder.ts';
import { findModel, type Registry } from '../models/registry.ts';
import type { GenerationRequest } from '../request/types.ts';

/** Whether the request names a LoRA or an embedding, explicitly or by an installed embedding's word. */
function usesAddOns(request: GenerationRequest, modelsDir: string): boolean {
  if ((request.loras?.length ?? 0) > 0 || (request.embeddings?.length ?? 0) > 0) return true;
  return installedAddOnNames(modelsDir, 'embedding').some((name) =>
    [request.prompt, request.negativePrompt].some((text) => mentionsEmbedding(text, name)),
  );
}

function familyOf(registry: Registry, model: string, modelsDir: string): ModelFamily | undefined {
  const entry = findModel(registry, model);
  if (entry === undefined) return undefined;
  if (entry.family !== undefined) return entry.family as ModelFamily;
  try {
    return detectModelFamily(modelFolder(entry, modelsDir)).family;
  } catch {
    // Not installed on this host: the worker, which has it, checks the family.
    return undefined;
  }
}

/**
 * Admission's check of a request's LoRAs and embeddings against MODELS_DIR, before anything is
 * reserved: undefined (no wait) for requests that use none, else a promise that rejects with the
 * member's reason. The worker runs the same check again, and the merge checks every layer.
 */
export function addOnAdmissionCheck(
  request: GenerationRequest,
  registry: Registry,
  modelsDir: string,
): Promise<void> | undefined {
  if (!usesAddOns(request, modelsDir)) return undefined;
  return requestAddOns(request, modelsDir, familyOf(registry, request.model, modelsDir)).then(() => {});
}
