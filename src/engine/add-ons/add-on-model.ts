import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { CodedError } from '../../errors/coded-error.ts';
import { UserError } from '../../errors/user-error.ts';
import type { Logger } from '../../log/logger.ts';
import type { DiffusionModel } from '../diffusion-model.ts';
import { addTextualInversions, expandEmbeddingNames } from '../embeddings/add-embeddings.ts';
import type { EncoderPart } from '../embeddings/textual-inversion.ts';
import type { LoraComponent } from '../lora/lora-keys.ts';
import type { LoraMatchReport, LoraModels } from '../lora/lora-merge.ts';
import { buildLoraSessions, loraCombinationKey } from '../lora/lora-sessions.ts';
import { OnnxModelWeights, type PatchedTensor } from '../lora/onnx-model-weights.ts';
import type { Sized } from '../lora/session-cache.ts';
import type { PromptTokenizer } from '../prompt-tokenizer.ts';
import type { RequestAddOns } from './add-on-check.ts';

/**
 * A model with a request's LoRAs merged and embeddings added: new sessions of the parts they
 * change (the UNet, the text encoders), new tokenizers for the embeddings' words, everything else
 * shared with the resident model. Built once per combination and kept by the model store's cache.
 */
export interface AddOnParts {
  sessions: Map<LoraComponent, InferenceSession>;
  tokenizers: Map<EncoderPart, PromptTokenizer>;
  reports: LoraMatchReport[];
}

/** What a job used, for its warnings and its PNG's parameters. */
export interface AppliedAddOns {
  reports: LoraMatchReport[];
  /** Whether the sessions came from the cache (the merge was paid by an earlier job). */
  cached: boolean;
}

/** One cache key per model, LoRAs with strengths, and embeddings, in whatever order they were named. */
export function addOnKey(modelId: string, addOns: RequestAddOns): string {
  const embeddings = addOns.embeddings.map((e) => e.name).sort();
  return `${loraCombinationKey(modelId, addOns.loras)}|${embeddings.join(',')}`;
}

export function hasAddOns(addOns: RequestAddOns): boolean {
  return addOns.loras.length > 0 || addOns.embeddings.length > 0;
}

function isEncoderPart(part: string): part is EncoderPart {
  return part === 'text_encoder' || part === 'text_encoder_2';
}

/** Embeddings that do not fit the encoder (another family's width) are the member's mistake. */
function asRefusal(error: unknown): unknown {
  if (!(error instanceof CodedError) || !/^embedding "/.test(error.message)) return error;
  return new UserError('invalid-request', error.message, {
    fields: [{ field: 'embeddings', message: error.message }],
  });
}

export async function buildAddOnParts(
  model: DiffusionModel,
  addOns: RequestAddOns,
  sessionOptions: InferenceSession.SessionOptions,
  logger: Logger,
): Promise<Sized<AddOnParts>> {
  const weights: LoraModels = {};
  const load = (part: string) => OnnxModelWeights.load(join(model.dir, part, 'model.onnx'));
  if (addOns.loras.length > 0 && model.denoiser.part === 'unet') weights.unet = await load('unet');
  const extraPatches = new Map<LoraComponent, Map<string, PatchedTensor>>();
  const tokenizers = new Map<EncoderPart, PromptTokenizer>();
  for (const encoder of model.textEncoders) {
    if (encoder === undefined || !isEncoderPart(encoder.part)) continue;
    const part = encoder.part;
    weights[part] = await load(part);
    const inversions = addOns.embeddings.filter((e) => e.vectors[part] !== undefined);
    if (inversions.length === 0) continue;
    let extended: Awaited<ReturnType<typeof addTextualInversions>>;
    try {
      extended = await addTextualInversions(
        encoder.tokenizer.tokenizerJson,
        weights[part]!,
        part,
        inversions,
      );
    } catch (error) {
      throw asRefusal(error);
    }
    extraPatches.set(part, extended.patches);
    const counts = inversions.map((e) => ({ name: e.name, count: e.vectors[part]!.length }));
    tokenizers.set(
      part,
      encoder.tokenizer.extended(extended.tokenizerJson as Record<string, unknown>, (text) =>
        expandEmbeddingNames(text, counts),
      ),
    );
  }
  const built = await buildLoraSessions(weights, addOns.loras, logger, sessionOptions, {}, extraPatches);
  return { value: { ...built.value, tokenizers }, bytes: built.bytes };
}

/** The model as a job with these add-ons sees it; it owns nothing (the cache releases the sessions). */
export function modelWithAddOns(model: DiffusionModel, parts: AddOnParts): DiffusionModel {
  const unet = parts.sessions.get('unet');
  return {
    ...model,
    denoiser: unet === undefined ? model.denoiser : { ...model.denoiser, session: unet },
    textEncoders: model.textEncoders.map((encoder) => {
      if (encoder === undefined || !isEncoderPart(encoder.part)) return encoder;
      const session = parts.sessions.get(encoder.part) ?? encoder.session;
      const tokenizer = parts.tokenizers.get(encoder.part) ?? encoder.tokenizer;
      return { ...encoder, session, tokenizer };
    }),
    release: async () => {},
  };
}
