import { listModels, type ModelListing } from '../../models/model-listing.ts';
import type { OperationContext } from './generate.ts';

/** The list-models operation: every model this server knows, installed or not, with its aliases. */
export function modelsNow(ctx: Pick<OperationContext, 'services' | 'config'>): ModelListing[] {
  return listModels(ctx.services.registry, ctx.config.MODELS_DIR, ctx.config.DEFAULT_MODEL);
}
