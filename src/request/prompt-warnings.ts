import { findModel, type Registry } from '../models/registry.ts';
import { vocabularyHint } from '../models/vocabulary-hint.ts';
import type { GenerationRequest } from './types.ts';

/**
 * Things a member should know about an accepted request that are not reasons to refuse it. Every
 * frontend shows them: the CLI prints them, chat replies add them, API answers carry `warnings`.
 */
export function promptWarnings(
  request: Pick<GenerationRequest, 'mode' | 'model' | 'prompt'>,
  registry: Registry,
): string[] {
  if (request.mode === 'upscale') return [];
  const hint = vocabularyHint(findModel(registry, request.model), request.prompt);
  return hint === undefined ? [] : [hint];
}
