import type { Services } from '../app/services.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { DeliverJobData, Origin } from '../queue/job-data.ts';

/**
 * Posts one finished (or finally failed) job to its platform. Called by the deliver worker once
 * per attempt; delivery is at least once, so every side effect must be idempotent by job id (see
 * once.ts). Throw BullMQ's `UnrecoverableError` for failures no retry can fix (channel gone,
 * token revoked); any other error is retried with backoff, without re-rendering.
 */
export interface DeliverContext {
  /** The generate job this delivery is for (the same as `data.jobId`). */
  jobId: string;
  /** 1 on the first attempt. */
  attempt: number;
  logger: Logger;
}

export interface Deliverer {
  deliver(data: DeliverJobData, ctx: DeliverContext): Promise<void>;
  /** Releases the platform client, after the worker stopped. */
  close?(): Promise<void>;
}

export type DeliverPlatform = Exclude<Origin['platform'], 'cli'>;

/** Builds a platform's deliverer in the deliver role (with the process's Services). */
export type DelivererFactory = (ctx: {
  config: Config;
  logger: Logger;
  services: Services;
}) => Promise<Deliverer>;

export type DelivererFactories = Partial<Record<DeliverPlatform, DelivererFactory>>;
