import type { App } from '@slack/bolt';
import {
  decodeActionId,
  finishedResult,
  isRemixable,
  requestForAction,
} from '../../../../commands/actions.ts';
import { isUserError } from '../../../errors/user-error.ts';
import { decodeInpaintMetadata } from '../blocks/inpaint-modal.ts';
import { REMIX_BLOCK, REMIX_CALLBACK_ID, readRemixPrompt } from '../blocks/remix-modal.ts';
import type { SlackDeps } from '../slack-deps.ts';
import { SLACK_LIMITS, truncate } from '../slack-limits.ts';
import { sourceJob } from './source-job.ts';
import { startModalJob } from './start-action-job.ts';

/**
 * Remix's submission: the edited prompt replaces the job's for the V, Vary or Reroll that opened
 * the modal. A bad prompt is shown in the modal, which stays open; nothing is queued. A good one
 * goes through admission like the button itself would, with its status and result in the thread.
 */
export function registerRemixSubmission(app: App, deps: SlackDeps): void {
  app.view(REMIX_CALLBACK_ID, async ({ ack, body, view }) => {
    const origin = decodeInpaintMetadata(view.private_metadata);
    const teamId = body.team?.id ?? body.user.team_id ?? '';
    const userId = body.user.id;
    const fieldError = (text: string) =>
      ack({ response_action: 'errors', errors: { [REMIX_BLOCK]: truncate(text, SLACK_LIMITS.fieldError) } });
    if (!origin || !teamId) {
      await fieldError('This form is damaged; press the button again.');
      return;
    }
    let action: ReturnType<typeof decodeActionId>;
    let request: ReturnType<typeof requestForAction>;
    try {
      action = decodeActionId(origin.actionId);
      if (!isRemixable(action)) throw new Error('not a remixable action');
      const source = await sourceJob(deps, action.jobId, teamId);
      request = requestForAction({ request: source.data.request, result: finishedResult(source) }, action, {
        prompt: readRemixPrompt(view.state.values as Parameters<typeof readRemixPrompt>[0]),
      });
    } catch (error) {
      if (!isUserError(error)) {
        deps.logger.error({ err: error }, 'remix submission failed');
        await fieldError('Something went wrong on my side; nothing was queued.');
        return;
      }
      await fieldError(error.message);
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
      what: 'The remix',
    });
  });
}
