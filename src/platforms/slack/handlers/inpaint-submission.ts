import type { App } from '@slack/bolt';
import { decodeActionId, finishedResult, requestForAction } from '../../../../commands/actions.ts';
import { isUserError } from '../../../errors/user-error.ts';
import {
  decodeInpaintMetadata,
  INPAINT_BLOCKS,
  INPAINT_CALLBACK_ID,
  readInpaintFields,
} from '../blocks/inpaint-modal.ts';
import type { SlackDeps } from '../slack-deps.ts';
import { SLACK_LIMITS, truncate } from '../slack-limits.ts';

const FIELD_ERROR_MAX = SLACK_LIMITS.fieldError;

import { sourceJob } from './source-job.ts';
import { startModalJob } from './start-action-job.ts';

/**
 * The Inpaint modal's submission. Bad input (empty prompt, a region that is not a preset or
 * `x,y,w,h` inside the image) is shown next to the field in the modal (`response_action: errors`),
 * which stays open; nothing is queued. A good one closes the modal and goes through admission,
 * charged to the member, with its status and result in the original thread.
 */
export function registerInpaintSubmission(app: App, deps: SlackDeps): void {
  app.view(INPAINT_CALLBACK_ID, async ({ ack, body, view }) => {
    const origin = decodeInpaintMetadata(view.private_metadata);
    const teamId = body.team?.id ?? body.user.team_id ?? '';
    const userId = body.user.id;
    const fields = readInpaintFields(view.state.values as Parameters<typeof readInpaintFields>[0]);
    const fieldError = (block: string, text: string) =>
      ack({ response_action: 'errors', errors: { [block]: truncate(text, FIELD_ERROR_MAX) } });
    if (!origin || !teamId) {
      await fieldError(INPAINT_BLOCKS.prompt, 'This form is damaged; press Inpaint again.');
      return;
    }
    let action: ReturnType<typeof decodeActionId>;
    let request: ReturnType<typeof requestForAction>;
    try {
      action = decodeActionId(origin.actionId);
      if (action.action !== 'inpaint') throw new Error('not an inpaint action');
      const source = await sourceJob(deps, action.jobId, teamId);
      request = requestForAction({ request: source.data.request, result: finishedResult(source) }, action, {
        prompt: fields.prompt,
        region: fields.region,
      });
    } catch (error) {
      if (!isUserError(error)) {
        deps.logger.error({ err: error }, 'inpaint submission failed');
        await fieldError(INPAINT_BLOCKS.prompt, 'Something went wrong on my side; nothing was queued.');
        return;
      }
      const bad = error.context.fields ?? [];
      const region = bad.find((f) => f.field === 'region');
      const prompt = bad.find((f) => f.field === 'prompt');
      const errors: Record<string, string> = {};
      if (region) errors[fields.regionBlock] = truncate(region.message, FIELD_ERROR_MAX);
      if (prompt || !region)
        errors[INPAINT_BLOCKS.prompt] = truncate(prompt?.message ?? error.message, FIELD_ERROR_MAX);
      await ack({ response_action: 'errors', errors });
      return;
    }
    await ack();
    await startModalJob(deps, {
      action,
      request,
      teamId,
      userId,
      userName: body.user.name,
      thread: origin,
      viewId: view.id,
      what: 'The inpaint',
    });
  });
}
