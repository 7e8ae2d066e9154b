import { type REST, Routes } from 'discord.js';
import { followStatusProgress, type StatusSurface } from '../../../commands/status-lifecycle.ts';
import type { Logger } from '../../log/logger.ts';
import type { DiscordOrigin } from '../../queue/job-data.ts';
import type { ProgressRelay } from '../../queue/progress-relay.ts';
import { TOKEN_USABLE_MS } from './deliver-discord.ts';
import type { DiscordReplyStore } from './reply-store.ts';
import { statusMessage } from './status-message.ts';

/** At most one progress edit per job in this window (the issue: one every 3 s). */
const PROGRESS_EDIT_MS = 3000;

/**
 * A Discord job's status message as the status lifecycle (commands/status-lifecycle.ts) edits it:
 * through the interaction's webhook while its token works (15 minutes), never after.
 */
function interactionStatus(webhooks: REST, clock: () => number): StatusSurface<DiscordOrigin> {
  return {
    platform: 'discord',
    async locate(_jobId, data) {
      const origin = data.origin;
      if (origin.platform !== 'discord') return undefined;
      return clock() - origin.interactionCreatedAt < TOKEN_USABLE_MS ? origin : undefined;
    },
    async show(origin, jobId, data, state) {
      await webhooks.patch(
        Routes.webhookMessage(
          origin.applicationId,
          origin.interactionToken,
          origin.statusMessageId ?? '@original',
        ),
        {
          auth: false,
          body: { ...statusMessage(jobId, data, state), allowed_mentions: { parse: [] } },
        },
      );
    },
  };
}

/** Turns a job's "queued" message into "rendering, step 12/25" as the worker reports progress. */
export function watchProgress(deps: {
  progress: ProgressRelay;
  replies: DiscordReplyStore;
  webhooks: REST;
  logger: Logger;
  clock?: () => number;
}): () => void {
  return followStatusProgress({
    progress: deps.progress,
    marks: deps.replies,
    surface: interactionStatus(deps.webhooks, deps.clock ?? Date.now),
    windowMs: PROGRESS_EDIT_MS,
    logger: deps.logger,
  });
}
