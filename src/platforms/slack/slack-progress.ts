import { cancelButton } from '../../../commands/actions.ts';
import { jobTitle } from './blocks/job-title.ts';
import { statusMessage } from './blocks/status-message.ts';
import type { SlackDeps } from './slack-deps.ts';
import { SLACK_LIMITS } from './slack-limits.ts';

/**
 * Turns render progress of Slack jobs into edits of their status message ("Rendering, step 12/25"),
 * at most one every 3 seconds per job across every Slack process (a Redis slot), and never after
 * the status became final (done, failed, cancelled). Returns the unsubscribe function.
 */
export function followSlackProgress(deps: SlackDeps): () => void {
  return deps.services.progress.onProgress(async ({ jobId, progress, data }) => {
    if (data.origin.platform !== 'slack') return;
    const { statusStore } = deps;
    if (await statusStore.isFinal(jobId)) return;
    const record = await statusStore.get(jobId);
    if (!record) return;
    if (!(await statusStore.takeProgressSlot(jobId, SLACK_LIMITS.progressEditMs))) return;
    const message = statusMessage({
      title: jobTitle(data.request),
      userId: data.member.userId,
      cost: record.cost,
      seed: data.request.seed,
      state: {
        kind: 'rendering',
        step: progress.step,
        total: progress.total,
        // A clip's progress counts frames.
        unit: data.request.video !== undefined ? 'frame' : 'step',
      },
      cancelActionId: cancelButton(jobId).actionId,
    });
    try {
      await deps.client.chat.update({
        channel: record.channelId,
        ts: record.statusTs,
        text: message.text,
        blocks: message.blocks,
      });
    } catch (error) {
      deps.logger.warn({ err: error, jobId }, 'progress edit failed');
    }
  });
}
