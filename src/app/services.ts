import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { addOnAdmissionCheck } from '../admission/add-on-admission.ts';
import { Admission } from '../admission/admission.ts';
import { InputImageScreening } from '../admission/input-image-screening.ts';
import type { AdmissionInput, AdmissionResult } from '../admission/types.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { artifactStoreFromConfig } from '../artifacts/artifact-store-from-config.ts';
import type { Config } from '../config/schema.ts';
import { CreditStore } from '../credits/credit-store.ts';
import { LEDGER_MAX_LEN, Reservations, SETTLED_TTL_S } from '../credits/reservations.ts';
import type { Balance, LedgerEntry } from '../credits/types.ts';
import { createOnce, type Once } from '../delivery/once.ts';
import type { Logger } from '../log/logger.ts';
import type { AdminActor, MemberRef, ScopeRef } from '../members/member-ref.ts';
import { loadCatalog } from '../models/model-catalog.ts';
import type { Registry } from '../models/registry.ts';
import { DurationStats } from '../queue/eta.ts';
import type { DeliverJobData, GenerateJobData, GenerateResult } from '../queue/job-data.ts';
import { JobTracker } from '../queue/job-tracker.ts';
import type { CancelOutcome, JobView } from '../queue/job-view.ts';
import { ProgressRelay } from '../queue/progress-relay.ts';
import { createQueues } from '../queue/queues.ts';
import { readSystemLoad, type SystemLoad } from '../queue/system-load.ts';
import { ModelAvailability, onlineWorkers, type WorkerPresence } from '../queue/worker-presence.ts';
import {
  type EffectiveLimits,
  effectiveLimits,
  type QuotaChanges,
  type QuotaView,
} from '../quotas/quota-policy.ts';
import { QuotaStore } from '../quotas/quota-store.ts';
import { connectProducer, createRedis } from '../redis/connections.ts';
import { StateKeys } from '../state/keys.ts';
import { withScripts } from '../state/scripts.ts';

/**
 * The one object every frontend (Discord, Slack, REST API, CLI) receives. Frontends validate the
 * request (src/request), check platform permissions, then call these; refusals members should read
 * come back as values (`AdmissionRefused`) or `UserError`s (`unavailable` when Redis is down:
 * nothing was reserved or charged).
 */
export interface Services {
  config: Config;
  logger: Logger;
  registry: Registry;
  /** The producer connection (fails fast while Redis is down). */
  redis: Redis;
  /** BullMQ prefix of every key (QUEUE_PREFIX, or a test's own). */
  prefix: string;
  /** Exactly-once delivery steps keyed `${jobId}:${step}` (src/delivery/once.ts). */
  once: Once;
  queues: {
    generate: Queue<GenerateJobData, GenerateResult>;
    deliver: Queue<DeliverJobData>;
  };
  admission: {
    /** Atomic: checks, reservation and the job; idempotent by `input.requestId` within its scope. */
    admit(input: AdmissionInput): Promise<AdmissionResult>;
  };
  jobs: {
    get(jobId: string): Promise<JobView | undefined>;
    /** Owner or (with `isAdmin`) a scope admin. Throws UserError not-found / forbidden. */
    cancel(jobId: string, member: MemberRef, options?: { isAdmin?: boolean }): Promise<CancelOutcome>;
    /** Resolves when the job finished or the timeout passed (then with its current state). */
    waitForResult(jobId: string, timeoutMs: number): Promise<JobView | undefined>;
  };
  credits: {
    balance(member: MemberRef): Promise<Balance>;
    /** Newest first. */
    history(member: MemberRef, n?: number): Promise<LedgerEntry[]>;
    /** Job ids whose reservation is still open, oldest first. */
    pending(member: MemberRef, max: number): Promise<string[]>;
    grant(admin: AdminActor, member: MemberRef, amount: number, reason: string): Promise<Balance>;
  };
  quotas: {
    get(scope: ScopeRef): Promise<QuotaView>;
    /** The member's limits from their roles' tiers (pass maxPixels/maxSteps to the validator). */
    limits(member: MemberRef): Promise<EffectiveLimits>;
    set(admin: AdminActor, scope: ScopeRef, changes: QuotaChanges): Promise<QuotaView>;
  };
  /** Progress, completion and final failure of any job, for frontends that edit their messages. */
  progress: ProgressRelay;
  systemLoad(): Promise<SystemLoad>;
  /** Render workers of this deployment (its database and prefix) that are alive now. */
  workers: { online(): Promise<WorkerPresence[]> };
  artifacts: ArtifactStore;
  /** Closes queue events, queues, then Redis. Workers are closed by their own roles first. */
  close(): Promise<void>;
}

export interface ServicesOptions {
  /** BullMQ prefix; QUEUE_PREFIX by default (tests pass a unique one). */
  prefix?: string;
  /** The store ARTIFACTS_URL or ARTIFACTS_DIR names by default. */
  artifacts?: ArtifactStore;
  /** ms since epoch; tests move it to cross 00:00 UTC. */
  clock?: () => number;
  registry?: Registry;
}

const DEFAULT_LEDGER_MAX_LEN = LEDGER_MAX_LEN;

/**
 * Wires admission, credits, quotas and the queues onto one producer connection. Does not fail when
 * Redis is down at start: calls then fail fast with a clear `unavailable` error until it is back.
 */
export async function createServices(
  config: Config,
  logger: Logger,
  options: ServicesOptions = {},
): Promise<Services> {
  const prefix = options.prefix ?? config.QUEUE_PREFIX;
  const clock = options.clock ?? Date.now;
  const registry = options.registry ?? loadCatalog(config.MODELS_DIR);
  const redis = withScripts(createRedis(config.REDIS_URL, 'producer', 'easel-producer'));
  await connectProducer(redis).catch((err: unknown) =>
    logger.warn({ err }, 'Redis is not reachable yet; requests are refused until it is'),
  );
  const keys = new StateKeys(prefix);
  const queues = createQueues(redis, prefix, logger);
  const quotas = new QuotaStore(redis, keys, config);
  const reservations = new Reservations({
    redis,
    keys,
    clock,
    ledgerMaxLen: DEFAULT_LEDGER_MAX_LEN,
    settledTtlS: SETTLED_TTL_S,
  });
  const credits = new CreditStore({ redis, keys, quotas, clock, ledgerMaxLen: DEFAULT_LEDGER_MAX_LEN });
  const durations = new DurationStats(redis, keys);
  const progress = new ProgressRelay({
    redisUrl: config.REDIS_URL,
    prefix,
    generate: queues.generate,
    logger,
  });
  const tracker = new JobTracker({
    redis,
    keys,
    generate: queues.generate,
    reservations,
    durations,
    relay: progress,
  });
  const artifacts = options.artifacts ?? (await artifactStoreFromConfig(config));
  const inputScreening = new InputImageScreening({ config, logger, registry, artifacts, quotas });
  const workersOnline = () => onlineWorkers(redis, prefix, clock());
  const availability = new ModelAvailability(workersOnline);
  const admission = new Admission({
    config,
    logger,
    redis,
    keys,
    generate: queues.generate,
    quotas,
    durations,
    positionOf: (jobId) => tracker.positionOf(jobId),
    balanceOf: (member) => credits.balance(member),
    clock,
    ledgerMaxLen: DEFAULT_LEDGER_MAX_LEN,
    modelProblem: (model) => availability.problem(model),
    screenInput: (input) => inputScreening.check(input),
    checkAddOns: (input) => addOnAdmissionCheck(input.request, registry, config.MODELS_DIR),
  });

  let closed = false;
  return {
    config,
    logger,
    registry,
    redis,
    prefix,
    once: createOnce(redis, prefix),
    queues,
    admission: { admit: (input) => admission.admit(input) },
    jobs: {
      get: (jobId) => tracker.get(jobId),
      cancel: (jobId, member, cancelOptions) => tracker.cancel(jobId, member, cancelOptions),
      waitForResult: (jobId, timeoutMs) => tracker.waitForResult(jobId, timeoutMs),
    },
    credits: {
      balance: (member) => credits.balance(member),
      history: (member, n) => credits.history(member, n),
      pending: (member, max) => credits.pending(member, max),
      grant: (admin, member, amount, reason) => credits.grant(admin, member, amount, reason),
    },
    quotas: {
      get: (scope) => quotas.get(scope),
      limits: async (member) => effectiveLimits(await quotas.policy(member.scope), member.roles),
      set: (admin, scope, changes) => quotas.set(admin, scope, changes),
    },
    progress,
    systemLoad: () => readSystemLoad(queues.generate, queues.deliver, durations, workersOnline),
    workers: { online: workersOnline },
    artifacts,
    async close() {
      if (closed) return;
      closed = true;
      await progress.close();
      await inputScreening.release();
      await Promise.all([queues.generate.close(), queues.deliver.close()]);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
