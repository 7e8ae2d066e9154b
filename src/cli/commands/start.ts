import type { Command } from 'commander';
import { ensureRedis } from '../../app/ensure-redis.ts';
import { runRoles } from '../../app/run-roles.ts';
import { loadConfig } from '../../config/load-config.ts';
import { createLogger } from '../../log/logger.ts';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run every enabled role (bots, API, worker, delivery) in one process')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.LOG_LEVEL);
      const redis = await ensureRedis(config, logger);
      await runRoles(config, logger, redis);
    });
}
