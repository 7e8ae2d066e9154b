import { UnrecoverableError, Worker } from 'bullmq';
import type { Deliverer, DeliverPlatform } from '../src/delivery/deliverer.ts';
import type { Logger } from '../src/log/logger.ts';
import { deliveriesTotal } from '../src/metrics/metrics.ts';
import type { DeliverJobData } from '../src/queue/job-data.ts';
import { createRedis } from '../src/redis/connections.ts';
import { DELIVER_QUEUE } from '../src/state/keys.ts';

/**
 * The deliver worker: takes finished jobs off the `deliver` queue and hands each to the deliverer
 * of its platform. Posting is retried with backoff (platform down, 429) and never re-renders.
 * CLI jobs need no delivery (the CLI waits on the job itself).
 */
export interface DeliverWorkerOptions {
  redisUrl: string;
  prefix: string;
  deliverers: Partial<Record<DeliverPlatform, Deliverer>>;
  logger: Logger;
  concurrency?: number;
}

export interface DeliverWorker {
  worker: Worker<DeliverJobData>;
  close(): Promise<void>;
}

export async function startDeliverWorker(options: DeliverWorkerOptions): Promise<DeliverWorker> {
  const { deliverers, logger } = options;
  const connection = createRedis(options.redisUrl, 'worker', 'easel-deliver-worker');
  const worker = new Worker<DeliverJobData>(
    DELIVER_QUEUE,
    async (job) => {
      const data = job.data;
      if (data.v !== 1) throw new UnrecoverableError(`unknown deliver job version ${String(data.v)}`);
      const platform = data.origin.platform;
      if (platform === 'cli') return;
      const deliverer = deliverers[platform];
      if (!deliverer) {
        // Retried: at scale another deliver process (or this one after a restart) may serve it.
        deliveriesTotal.inc({ platform, outcome: 'no-deliverer' });
        throw new Error(`no ${platform} deliverer in this process (is ${platform} enabled here?)`);
      }
      const attempt = job.attemptsMade + 1;
      try {
        await deliverer.deliver(data, {
          jobId: data.jobId,
          attempt,
          logger: logger.child({ jobId: data.jobId, platform, kind: data.kind, attempt }),
        });
        deliveriesTotal.inc({ platform, outcome: 'delivered' });
      } catch (error) {
        deliveriesTotal.inc({ platform, outcome: 'error' });
        throw error;
      }
    },
    { connection, prefix: options.prefix, concurrency: options.concurrency ?? 8 },
  );
  worker.on('error', (err) => logger.error({ err }, 'deliver worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
    logger[final ? 'error' : 'warn'](
      { err, jobId: job.data.jobId, kind: job.data.kind, attempt: job.attemptsMade },
      final ? 'delivery failed for good' : 'delivery failed; will retry',
    );
  });
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      await worker.close();
      for (const deliverer of Object.values(deliverers)) await deliverer?.close?.();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
