import { describeJob } from '../../../../commands/actions.ts';
import type { GenerationRequest } from '../../../request/types.ts';

/** One line naming what a job does, for its status message (Slack shows the prompt as it was typed). */
export function jobTitle(request: GenerationRequest): string {
  return describeJob(request, request.prompt || '(no prompt)');
}
