import { type REST, Routes } from 'discord.js';
import type { Logger } from '../../log/logger.ts';
import type { ProgressRelay } from '../../queue/progress-relay.ts';
import { cancelRow } from './components.ts';
import { TOKEN_USABLE_MS } from './deliver-discord.ts';
import type { DiscordReplyStore } from './reply-store.ts';
import { statusText } from './status-text.ts';

/** At most one progress edit per job in this window (the issue: one every 3 s). */
const PROGRESS_EDIT_MS = 3000;

/**
 * Turns a job's "queued" message into "rendering, step 12/25" as the worker reports progress. The
 * window is taken in Redis, so several bot processes together still edit once per window; a job
 * that has ended is never set back to "rendering" by a late event.
 */
export function watchProgress(deps: {
  progress: ProgressRelay;
  replies: DiscordReplyStore;
  webhooks: REST;
  logger: Logger;
  windowMs?: number;
  clock?: () => number;
}): () => void {
  const clock = deps.clock ?? Date.now;
  return deps.progress.onProgress(async ({ jobId, progress, data }) => {
    const origin = data.origin;
    if (origin.platform !== 'discord') return;
    // The last step is followed by the result at once: an edit now could land after the result's.
    if (progress.step >= progress.total) return;
    if (clock() - origin.interactionCreatedAt >= TOKEN_USABLE_MS) return;
    if (await deps.replies.isFinal(jobId)) return;
    if (!(await deps.replies.takeProgressSlot(jobId, deps.windowMs ?? PROGRESS_EDIT_MS))) return;
    await deps.webhooks
      .patch(
        Routes.webhookMessage(
          origin.applicationId,
          origin.interactionToken,
          origin.statusMessageId ?? '@original',
        ),
        {
          auth: false,
          body: {
            content: statusText({
              request: data.request,
              userId: data.member.userId,
              cost: data.cost,
              state: { kind: 'rendering', step: progress.step, total: progress.total },
            }),
            components: cancelRow(jobId),
            allowed_mentions: { parse: [] },
          },
        },
      )
      .catch((err: unknown) => deps.logger.debug({ err, jobId }, 'progress edit failed'));
  });
}
