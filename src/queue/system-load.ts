import type { Queue } from 'bullmq';
import type { DurationStats } from './eta.ts';
import { estimateSeconds } from './eta.ts';
import type { DeliverJobData, GenerateJobData, GenerateResult } from './job-data.ts';
import type { WorkerPresence } from './worker-presence.ts';

/** The hosted APIs' "system load": how busy the render queue is and how long a new job would take. */
export interface SystemLoad {
  generate: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  deliver: { waiting: number; active: number; delayed: number; failed: number };
  /** Render workers of this deployment alive now (undefined when they could not be read). */
  workersOnline?: number;
  /** Moving average of a render, any model and size. */
  averageProcessingSeconds?: number;
  /** Estimated seconds until a job admitted now would finish. */
  etaSecondsForNewJob?: number;
}

export async function readSystemLoad(
  generate: Queue<GenerateJobData, GenerateResult>,
  deliver: Queue<DeliverJobData>,
  durations: DurationStats,
  liveWorkers: () => Promise<WorkerPresence[]>,
): Promise<SystemLoad> {
  const [g, d, workers, averages] = await Promise.all([
    generate.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed'),
    deliver.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed'),
    liveWorkers().then(
      (live) => live.length,
      () => undefined,
    ),
    durations.averages('*', 0),
  ]);
  const waiting = (g.wait ?? 0) + (g.prioritized ?? 0);
  const active = g.active ?? 0;
  const eta = estimateSeconds({ position: waiting + 1, active, ...averages });
  return {
    generate: {
      waiting,
      active,
      delayed: g.delayed ?? 0,
      completed: g.completed ?? 0,
      failed: g.failed ?? 0,
    },
    deliver: {
      waiting: (d.wait ?? 0) + (d.prioritized ?? 0),
      active: d.active ?? 0,
      delayed: d.delayed ?? 0,
      failed: d.failed ?? 0,
    },
    ...(workers !== undefined ? { workersOnline: workers } : {}),
    ...(averages.anyMs !== undefined ? { averageProcessingSeconds: averages.anyMs / 1000 } : {}),
    ...(eta !== undefined ? { etaSecondsForNewJob: eta } : {}),
  };
}
