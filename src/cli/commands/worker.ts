import type { Command } from 'commander';
import { runRoles } from '../../app/run-roles.ts';
import { loadConfig } from '../../config/load-config.ts';
import { createLogger } from '../../log/logger.ts';

/**
 * `easel worker`: only the GPU worker role, whatever ROLES says, for render machines at scale
 * (many workers against one Redis). It shares `easel start`'s shutdown path: SIGTERM lets the jobs
 * in hand finish.
 */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a render worker: consumes the generate queue with the models in MODELS_DIR')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.LOG_LEVEL);
      await runRoles({ ...config, ROLES: ['worker'] }, logger);
    });
}
