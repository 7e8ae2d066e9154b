import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq';
import type { Logger } from '../log/logger.ts';
import { DELIVER_QUEUE, GENERATE_QUEUE } from '../state/keys.ts';
import type { DeliverJobData, GenerateJobData, GenerateResult } from './job-data.ts';

/**
 * The two BullMQ queues. Rendering is retried only for transient errors (the worker throws
 * `UnrecoverableError` otherwise); delivery retries longer, since a platform may be briefly down
 * and posting never re-renders.
 */
export interface Queues {
  generate: Queue<GenerateJobData, GenerateResult>;
  deliver: Queue<DeliverJobData>;
}

const GENERATE_ATTEMPTS = 3;
const DELIVER_ATTEMPTS = 8;

export function generateJobOptions(retentionS: number): JobsOptions {
  return {
    attempts: GENERATE_ATTEMPTS,
    backoff: { type: 'exponential', delay: 2000 },
    // Finished jobs stay while their images do, so `fetch` and buttons can still read them.
    removeOnComplete: { age: retentionS },
    removeOnFail: { age: retentionS },
  };
}

export function deliverJobOptions(): JobsOptions {
  return {
    attempts: DELIVER_ATTEMPTS,
    backoff: { type: 'exponential', delay: 3000 },
    // Kept a day so a second enqueue under the same id (a re-run after a crash) collapses into it.
    removeOnComplete: { age: 86_400 },
    removeOnFail: { age: 7 * 86_400 },
  };
}

export function createQueues(connection: ConnectionOptions, prefix: string, logger: Logger): Queues {
  const generate = new Queue<GenerateJobData, GenerateResult>(GENERATE_QUEUE, { connection, prefix });
  const deliver = new Queue<DeliverJobData>(DELIVER_QUEUE, { connection, prefix });
  for (const queue of [generate, deliver]) {
    queue.on('error', (error) => logger.error({ err: error, queue: queue.name }, 'queue error'));
  }
  return { generate, deliver };
}
