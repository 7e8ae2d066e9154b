import type { Logger } from '../log/logger.ts';

/**
 * The one way easel runs a periodic sweep (expired artifacts, reservations whose job is gone): a
 * round every `everyMs`, never two at once (a slow round is not piled on), a failed round logged
 * and retried at the next tick, and a timer that never keeps the process alive. Each sweep has
 * one owner, the role that starts it and stops it with itself.
 */
export interface SweepTimer {
  /** One round now (or the one running); resolves to what the round reported (e.g. how many went). */
  sweepNow(): Promise<number>;
  stop(): void;
}

export function startSweepTimer(options: {
  /** What is swept, for the logs ("artifact sweep"). */
  name: string;
  everyMs: number;
  sweep: () => Promise<number>;
  logger: Logger;
}): SweepTimer {
  let running: Promise<number> | undefined;
  const sweepNow = (): Promise<number> => {
    running ??= options
      .sweep()
      .catch((err: unknown) => {
        options.logger.warn({ err }, `${options.name} failed; will retry`);
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void sweepNow(), options.everyMs);
  timer.unref();
  return { sweepNow, stop: () => clearInterval(timer) };
}
