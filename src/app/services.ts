import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QuotaChanges, QuotaView } from '../admission/quota-policy.ts';
import type { AdmissionInput, AdmissionResult } from '../admission/types.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { Config } from '../config/schema.ts';
import type { AdminActor, Balance, LedgerEntry } from '../credits/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Registry } from '../models/registry.ts';
import type {
  DeliverJobData,
  GenerateJobData,
  GenerateResult,
  MemberRef,
  ScopeRef,
} from '../queue/job-data.ts';
import type { CancelOutcome, JobView } from '../queue/job-view.ts';
import type { SystemLoad } from '../queue/system-load.ts';

/**
 * The one object every frontend (Discord, Slack, REST API, CLI) receives. Frontends validate the
 * request (src/request), check platform permissions, then call these; refusals members should read
 * come back as values (`AdmissionRefused`) or `UserError`s, internal trouble as `CodedError`s
 * (`redis-unavailable` when Redis is down: nothing was reserved).
 */
export interface Services {
  config: Config;
  logger: Logger;
  registry: Registry;
  /** The producer connection (fails fast while Redis is down). */
  redis: Redis;
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
    grant(admin: AdminActor, member: MemberRef, amount: number, reason: string): Promise<Balance>;
  };
  quotas: {
    get(scope: ScopeRef): Promise<QuotaView>;
    set(admin: AdminActor, scope: ScopeRef, changes: QuotaChanges): Promise<QuotaView>;
  };
  systemLoad(): Promise<SystemLoad>;
  artifacts: ArtifactStore;
  /** Closes queue events, queues, then Redis. Workers are closed by their own roles first. */
  close(): Promise<void>;
}

export interface ServicesOptions {
  /** BullMQ prefix; QUEUE_PREFIX by default (tests pass a unique one). */
  prefix?: string;
  artifacts: ArtifactStore;
  /** ms since epoch; tests move it to cross 00:00 UTC. */
  clock?: () => number;
  registry?: Registry;
}

export { createServices } from './create-services.ts';
