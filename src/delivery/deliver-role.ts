import type { Queue } from 'bullmq';
import { startDeliverWorker } from '../../workers/deliver.ts';
import type { RoleStarter } from '../app/role.ts';
import { createServices } from '../app/services.ts';
import { startSweepTimer } from '../app/sweep-timer.ts';
import type { DeliverJobData } from '../queue/job-data.ts';
import { ReservationSweeper } from '../queue/reservation-sweeper.ts';
import type { Deliverer, DelivererFactories, DeliverPlatform } from './deliverer.ts';

/**
 * The `deliver` role: the deliver worker with a deliverer for each platform enabled in this
 * process's configuration, plus the reservation sweep, which it alone owns (so reservations are
 * released even where no GPU worker runs, and many GPU workers do not each sweep the same set). The lead wires the platform factories in role-starters.ts:
 *   deliver: async () => createDeliverRole({ discord: ..., slack: ..., api: ... })
 */
const SWEEP_INTERVAL_MS = 30_000;
/** At stop, how long delivery waits for deliveries ready to run (retries waiting out a backoff are left). */
const DRAIN_WAIT_MS = 10_000;

/** Resolves when no delivery is waiting or running, or after `timeoutMs`. */
async function drained(queue: Queue<DeliverJobData>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const counts = await queue.getJobCounts('wait', 'prioritized', 'active').catch(() => undefined);
    if (!counts || Object.values(counts).every((n) => n === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function createDeliverRole(factories: DelivererFactories): RoleStarter {
  return async ({ config, logger }) => {
    const services = await createServices(config, logger);
    const enabled: Record<DeliverPlatform, boolean> = {
      discord: config.DISCORD_ENABLED,
      slack: config.SLACK_ENABLED,
      api: config.API_ENABLED,
    };
    const deliverers: Partial<Record<DeliverPlatform, Deliverer>> = {};
    for (const [platform, factory] of Object.entries(factories) as [
      DeliverPlatform,
      NonNullable<DelivererFactories[DeliverPlatform]>,
    ][]) {
      if (!enabled[platform]) continue;
      deliverers[platform] = await factory({ config, logger: logger.child({ platform }), services });
    }
    const delivery = await startDeliverWorker({
      redisUrl: config.REDIS_URL,
      prefix: config.QUEUE_PREFIX,
      deliverers,
      logger,
    });
    const reservations = ReservationSweeper.forServices(services, logger);
    const sweeper = startSweepTimer({
      name: 'reservation sweep',
      everyMs: SWEEP_INTERVAL_MS,
      sweep: () => reservations.sweep(),
      logger,
    });
    logger.info({ platforms: Object.keys(deliverers) }, 'deliver worker started');
    return {
      name: 'deliver',
      async stop() {
        sweeper.stop();
        // Results a worker of this process queued while it stopped are posted before closing.
        await drained(services.queues.deliver, DRAIN_WAIT_MS);
        await delivery.close();
        await services.close();
      },
    };
  };
}
