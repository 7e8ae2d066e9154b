import { type SweepTimer, startSweepTimer } from '../app/sweep-timer.ts';
import type { Logger } from '../log/logger.ts';
import type { ArtifactStore } from './artifact-store.ts';

/**
 * Deletes stored artifacts older than the retention period (IMAGE_RETENTION_HOURS), on a timer.
 * The image routes already refuse expired images, so the sweep only reclaims the disk or bucket,
 * and a missed round costs nothing. Owned by the worker role (src/queue/worker-role.ts), which writes
 * the images: one timer per worker process, whichever other roles run beside it.
 */
export function startArtifactSweeper(options: {
  artifacts: ArtifactStore;
  retentionHours: number;
  logger: Logger;
  clock?: () => number;
  /** Default: a tenth of the retention, between 30 seconds and 10 minutes. */
  intervalMs?: number;
}): SweepTimer {
  const retentionMs = options.retentionHours * 3_600_000;
  const now = options.clock ?? Date.now;
  const { logger } = options;
  return startSweepTimer({
    name: 'artifact sweep',
    everyMs: options.intervalMs ?? Math.min(600_000, Math.max(30_000, retentionMs / 10)),
    logger,
    async sweep() {
      const removed = await options.artifacts.sweep(now() - retentionMs);
      if (removed > 0) logger.info({ removed }, 'expired artifacts swept');
      return removed;
    },
  });
}
