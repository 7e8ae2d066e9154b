import type { Config } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';

/**
 * A role is one long-running part of easel (a bot, the API, a worker). `easel start` runs every
 * enabled role in one process; at scale each runs on its own (`ROLES=worker` on GPU machines).
 */
export interface RunningRole {
  name: string;
  /** Stops taking new work and finishes what is in hand. */
  stop(): Promise<void>;
}

export interface RoleContext {
  config: Config;
  logger: Logger;
}

export type RoleStarter = (ctx: RoleContext) => Promise<RunningRole>;
