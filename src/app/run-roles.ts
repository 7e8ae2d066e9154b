import type { Config } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import { startMetricsRole } from '../metrics/metrics-server.ts';
import type { PrivateRedis } from '../redis/private-redis-server.ts';
import type { RunningRole } from './role.ts';
import { loadRoleStarter, rolesToRun } from './role-starters.ts';

/**
 * The order roles stop in, whatever order they started in: the frontends first (no new requests),
 * then the render worker (it finishes the jobs in hand and queues their results for delivery),
 * then delivery (which posts what the worker just finished), and metrics, which watches them all,
 * last. Stopping delivery before the worker left the worker's last results waiting for the next
 * start.
 */
const STOP_ORDER = ['discord', 'slack', 'api', 'worker', 'deliver', 'metrics'];

function stopRank(role: RunningRole): number {
  const rank = STOP_ORDER.indexOf(role.name);
  return rank === -1 ? STOP_ORDER.length : rank;
}

/**
 * Starts every role this process runs and installs the one shutdown path: the first SIGTERM or
 * SIGINT stops roles in STOP_ORDER, then the embedded Redis. A second signal exits at once.
 */
export async function runRoles(config: Config, logger: Logger, embeddedRedis?: PrivateRedis): Promise<void> {
  const running: RunningRole[] = [];
  let stopping = false;

  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    for (const role of [...running].sort((a, b) => stopRank(a) - stopRank(b))) {
      try {
        await role.stop();
        logger.info({ role: role.name }, 'role stopped');
      } catch (error) {
        logger.error({ role: role.name, err: error }, 'role did not stop cleanly');
      }
    }
    await embeddedRedis?.stop();
    // Let the log's pending writes finish first: at exit pino writes what is still buffered at once,
    // which can land before a write already in progress, out of order.
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const roles = rolesToRun(config);
  if (roles.length === 0) logger.warn('no role is running: check ROLES and the *_ENABLED variables');
  // Every process exposes its own queue metrics (METRICS_PORT=0 turns this off). Started first, so
  // it is stopped last and a signal during start-up finds it in the list already.
  if (roles.length > 0)
    running.push(await startMetricsRole({ config, logger: logger.child({ role: 'metrics' }) }));
  for (const role of roles) {
    const starter = await loadRoleStarter(role);
    running.push(await starter({ config, logger: logger.child({ role }) }));
    logger.info({ role }, 'role started');
  }
}
