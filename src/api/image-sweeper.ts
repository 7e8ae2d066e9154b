import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { Logger } from '../log/logger.ts';

/**
 * Deletes stored images older than the retention period (IMAGE_RETENTION_HOURS), on a timer. The
 * image route already refuses expired images, so the sweep only has to reclaim the disk, and a
 * missed round costs nothing.
 */
export interface ImageSweeper {
  /** One round now; returns how many artifacts went. */
  sweepNow(): Promise<number>;
  stop(): void;
}

export function startImageSweeper(options: {
  artifacts: ArtifactStore;
  retentionHours: number;
  logger: Logger;
  clock?: () => number;
  /** Default: a tenth of the retention, between 30 seconds and 10 minutes. */
  intervalMs?: number;
}): ImageSweeper {
  const retentionMs = options.retentionHours * 3_600_000;
  const now = options.clock ?? Date.now;
  const intervalMs = options.intervalMs ?? Math.min(600_000, Math.max(30_000, retentionMs / 10));
  let running: Promise<number> | undefined;

  const sweepNow = (): Promise<number> => {
    running ??= options.artifacts
      .sweep(now() - retentionMs)
      .then((removed) => {
        if (removed > 0) options.logger.info({ removed }, 'expired images deleted');
        return removed;
      })
      .catch((error: unknown) => {
        options.logger.warn({ err: error }, 'image sweep failed; will retry');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const timer = setInterval(() => void sweepNow(), intervalMs);
  timer.unref();
  return { sweepNow, stop: () => clearInterval(timer) };
}
