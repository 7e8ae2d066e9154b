import type { App, BlockAction } from '@slack/bolt';
import {
  decodeActionId,
  describeAction,
  finishedResult,
  handleAction,
  remixPrompt,
  requestForAction,
} from '../../../../commands/actions.ts';
import { answerConfirmation } from '../../../../commands/batch-answer.ts';
import { finishStatus } from '../../../../commands/status-lifecycle.ts';
import { isUserError, UserError } from '../../../errors/user-error.ts';
import type { SlackOrigin } from '../../../queue/job-data.ts';
import { offerRegionLinkOnSlack } from '../../../region-editor/slack-region-link.ts';
import { PROMPT_MAX_CHARS } from '../../../request/limits.ts';
import { inpaintModal } from '../blocks/inpaint-modal.ts';
import { remixModal } from '../blocks/remix-modal.ts';
import { slackAnswer } from '../command-surface.ts';
import { slackConfirmation } from '../confirmation-surface.ts';
import { isWorkspaceAdmin } from '../slack-admins.ts';
import { type SlackDeps, slackMember } from '../slack-deps.ts';
import { slackStatus } from '../slack-progress.ts';
import { type EphemeralTarget, tellMember } from '../tell-member.ts';
import { sourceJob } from './source-job.ts';
import { startActionJob } from './start-action-job.ts';

/**
 * Every button easel posts: Cancel under a status message; U1-U4, V1-V4, Reroll under a result;
 * Vary, Inpaint, Zoom Out and Upscale under an upscale. The action id says what and which job
 * (commands/actions.ts); the job is read from Redis and must belong to this workspace. Each new
 * job goes through admission and is charged to the member who pressed. Inpaint opens a modal
 * first, inside the trigger id's 3 seconds.
 */
export function registerButtonActions(app: App, deps: SlackDeps): void {
  app.action<BlockAction>(/.*/, async ({ ack, body, action, respond }) => {
    await ack();
    const teamId = body.team?.id ?? body.user.team_id ?? '';
    const channelId = body.channel?.id ?? body.container?.channel_id ?? '';
    const userId = body.user.id;
    const tell: EphemeralTarget = { client: deps.client, channelId, userId, respond };
    const message = body.message as { ts?: string; thread_ts?: string } | undefined;
    try {
      if (!teamId || !channelId || !userId) {
        throw new Error(`malformed block_actions payload (team ${teamId}, channel ${channelId})`);
      }
      const actionId = 'action_id' in action ? action.action_id : '';
      const decoded = decodeActionId(actionId);
      if (decoded.action === 'batch') {
        await answerBatch(deps, { actionId, teamId, channelId, userId, userName: body.user.name, tell });
        return;
      }
      const view = await sourceJob(deps, decoded.jobId, teamId);
      const record = await deps.statusStore.get(decoded.jobId);
      const threadTs = record?.threadTs ?? message?.thread_ts ?? message?.ts ?? '';
      if (decoded.action === 'cancel') {
        await cancel(deps, decoded.jobId, { teamId, userId, owner: view.data.member.userId, tell });
        return;
      }
      if (decoded.action === 'inpaint') {
        // Checked now, so the member does not fill in a modal for an image that is not there.
        const images = finishedResult(view).images;
        if (!images[decoded.index]) {
          throw UserError.refused({
            reason: 'no-such-image',
            image: decoded.index + 1,
            count: images.length,
          });
        }
        await deps.client.views.open({
          trigger_id: body.trigger_id,
          view: inpaintModal(
            { actionId: 'action_id' in action ? action.action_id : '', channelId, threadTs },
            view.data.request.prompt,
            PROMPT_MAX_CHARS,
          ),
        });
        return;
      }
      if (decoded.action === 'vary-region') {
        await offerRegionLinkOnSlack(deps, {
          jobId: decoded.jobId,
          index: decoded.index,
          teamId,
          userId,
          userName: body.user.name,
          channelId,
          threadTs,
          tell,
        });
        return;
      }
      const member = slackMember(teamId, userId, body.user.name);
      const remix = await remixPrompt(deps.services, { actionId, member });
      if (remix !== undefined) {
        await deps.client.views.open({
          trigger_id: body.trigger_id,
          view: remixModal({ actionId, channelId, threadTs }, describeAction(decoded), remix),
        });
        return;
      }
      const request = requestForAction({ request: view.data.request, result: finishedResult(view) }, decoded);
      await startActionJob(deps, {
        action: decoded,
        request,
        teamId,
        userId,
        userName: body.user.name,
        channelId,
        threadTs,
        triggerId: body.trigger_id,
        tell,
      });
    } catch (error) {
      if (isUserError(error)) {
        await slackAnswer(deps, tell).surface.tellPrivately({ kind: 'refusal', error });
        return;
      }
      deps.logger.error({ err: error }, 'button failed');
      await tellMember(tell, 'That button could not be handled. Nothing was queued or charged.', deps.logger);
    }
  });
}

async function cancel(
  deps: SlackDeps,
  jobId: string,
  who: { teamId: string; userId: string; owner: string; tell: EphemeralTarget },
): Promise<void> {
  const isAdmin =
    who.userId !== who.owner &&
    (await isWorkspaceAdmin(deps.client, who.teamId, who.userId, deps.config.SLACK_ADMINS));
  const outcome = await deps.services.jobs.cancel(jobId, slackMember(who.teamId, who.userId), { isAdmin });
  const record = await deps.statusStore.get(jobId);
  const view = await deps.services.jobs.get(jobId);
  if (view) {
    await finishStatus(deps.statusStore, slackStatus(deps), record, jobId, view.data, {
      kind: 'cancelled',
      byUserId: who.userId,
      refunded: outcome.refunded,
    }).catch((error: unknown) => deps.logger.warn({ err: error, jobId }, 'status message not updated'));
  }
  await slackAnswer(deps, who.tell).surface.tellPrivately({ kind: 'cancelled', refunded: outcome.refunded });
}

/** A batch's confirmation answered (permutations, --repeat), on its private message. */
async function answerBatch(
  deps: SlackDeps,
  press: {
    actionId: string;
    teamId: string;
    channelId: string;
    userId: string;
    userName?: string;
    tell: EphemeralTarget;
  },
): Promise<void> {
  const member = slackMember(press.teamId, press.userId, press.userName);
  const origin: SlackOrigin = {
    platform: 'slack',
    teamId: press.teamId,
    channelId: press.channelId,
    userId: press.userId,
  };
  const reply = await handleAction(deps.services, {
    actionId: press.actionId,
    requestId: `slack:${press.actionId}`,
    member,
    origin,
  });
  const surface = slackConfirmation(deps, press.tell, origin);
  await answerConfirmation({ surface, services: deps.services, logger: deps.logger }, reply, {
    requestId: `slack:${press.actionId}`,
    member,
  });
}
