import { VARIATION_STRENGTH } from '../../../../commands/actions.ts';
import type { GenerationRequest } from '../../../request/types.ts';

function varyLabel(strength: number | undefined): string {
  if (strength === VARIATION_STRENGTH.subtle) return 'Vary (Subtle)';
  if (strength === VARIATION_STRENGTH.strong) return 'Vary (Strong)';
  return strength === undefined ? 'Variation' : `Variation (strength ${strength})`;
}

/**
 * One line naming what a job does, for its status message: the prompt for `/imagine`, the action
 * and image for a button ("Upscale 2x of image 1 · a red circle").
 */
export function jobTitle(request: GenerationRequest): string {
  const image = request.source ? ` of image ${request.source.index + 1}` : '';
  const prompt = request.prompt || '(no prompt)';
  switch (request.mode) {
    case 'upscale':
      return `Upscale ${request.upscale ?? 2}x${image} · ${prompt}`;
    case 'variation':
      return `${varyLabel(request.strength)}${image} · ${prompt}`;
    case 'inpaint':
      return `Inpaint${image} · ${prompt}`;
    case 'outpaint':
      return `Zoom Out ${request.zoomOut ?? 2}x${image} · ${prompt}`;
    default:
      return request.source ? `Reroll · ${prompt}` : prompt;
  }
}
