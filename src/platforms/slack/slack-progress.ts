import { cancelButton } from '../../../commands/actions.ts';
import {
  followStatusProgress,
  type StatusJob,
  type StatusPoster,
  type StatusState,
  type StatusSurface,
} from '../../../commands/status-lifecycle.ts';
import { jobTitle } from './blocks/job-title.ts';
import { type SlackMessage, statusMessage } from './blocks/status-message.ts';
import type { SlackDeps } from './slack-deps.ts';
import { SLACK_LIMITS } from './slack-limits.ts';
import type { StatusRecord } from './status-store.ts';

/**
 * A Slack job's status message as the status lifecycle (commands/status-lifecycle.ts) posts and
 * edits it: posted where the job's origin says (the channel, or the thread a button was pressed
 * in), recorded in the status store, updated with `chat.update`.
 *
 * Whoever records the message first owns it: the frontend, or delivery when the frontend died
 * before posting. The other deletes its duplicate and goes on with the record that stands.
 */
export function slackStatus(
  deps: Pick<SlackDeps, 'statusStore' | 'client'>,
): StatusSurface<StatusRecord> & StatusPoster<StatusRecord> {
  return {
    platform: 'slack',
    locate: (jobId) => deps.statusStore.get(jobId),
    async show(record, jobId, job, state) {
      const message = render(jobId, job, state, record.cost);
      await deps.client.chat.update({
        channel: record.channelId,
        ts: record.statusTs,
        text: message.text,
        blocks: message.blocks,
      });
    },
    async post(jobId, job, state, balance) {
      if (job.origin.platform !== 'slack')
        throw new Error(`a ${job.origin.platform} job has no Slack status`);
      const { channelId, parentTs } = job.origin;
      const cost = job.cost ?? 0;
      const message = render(jobId, job, state, cost, balance);
      const posted = await deps.client.chat.postMessage({
        channel: channelId,
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
        ...(parentTs ? { thread_ts: parentTs } : {}),
      });
      const ts = posted.ts as string;
      const claim = await deps.statusStore.claim(jobId, {
        channelId,
        statusTs: ts,
        threadTs: parentTs ?? ts,
        userId: job.member.userId,
        cost,
      });
      if (!claim.won) await deps.client.chat.delete({ channel: channelId, ts }).catch(() => undefined);
      return claim.record;
    },
  };
}

function render(
  jobId: string,
  job: StatusJob,
  state: StatusState,
  cost: number,
  balance?: number,
): SlackMessage {
  return statusMessage({
    title: jobTitle(job.request),
    userId: job.member.userId,
    cost,
    ...(balance !== undefined ? { balance } : {}),
    seed: job.request.seed,
    state,
    cancelActionId: cancelButton(jobId).actionId,
  });
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
