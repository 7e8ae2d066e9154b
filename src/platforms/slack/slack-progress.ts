import { cancelButton } from '../../../commands/actions.ts';
import { followStatusProgress, type StatusSurface } from '../../../commands/status-lifecycle.ts';
import { jobTitle } from './blocks/job-title.ts';
import { statusMessage } from './blocks/status-message.ts';
import type { SlackDeps } from './slack-deps.ts';
import { SLACK_LIMITS } from './slack-limits.ts';
import type { StatusRecord } from './status-store.ts';

/**
 * A Slack job's status message as the status lifecycle (commands/status-lifecycle.ts) edits it:
 * the message its status store records, updated with `chat.update`.
 */
export function slackStatus(deps: Pick<SlackDeps, 'statusStore' | 'client'>): StatusSurface<StatusRecord> {
  return {
    platform: 'slack',
    locate: (jobId) => deps.statusStore.get(jobId),
    async show(record, jobId, data, state) {
      const message = statusMessage({
        title: jobTitle(data.request),
        userId: data.member.userId,
        cost: record.cost,
        seed: data.request.seed,
        state,
        cancelActionId: cancelButton(jobId).actionId,
      });
      await deps.client.chat.update({
        channel: record.channelId,
        ts: record.statusTs,
        text: message.text,
        blocks: message.blocks,
      });
    },
  };
}

/** Render progress of Slack jobs as edits of their status message, one every 3 s at most. */
export function followSlackProgress(deps: SlackDeps): () => void {
  return followStatusProgress({
    progress: deps.services.progress,
    marks: deps.statusStore,
    surface: slackStatus(deps),
    windowMs: SLACK_LIMITS.progressEditMs,
    logger: deps.logger,
  });
}
