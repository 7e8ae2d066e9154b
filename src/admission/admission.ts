import type { Queue } from 'bullmq';
import type { Config } from '../config/schema.ts';
import { computeCost, ratesFromConfig } from '../credits/cost.ts';
import { assertMember } from '../credits/credit-store.ts';
import type { Reservations } from '../credits/reservations.ts';
import type { Balance } from '../credits/types.ts';
import { fromMilli, toMilli, utcDay } from '../credits/units.ts';
import { UserError } from '../errors/user-error.ts';
import type { Logger } from '../log/logger.ts';
import { admissionSeconds, admissionsTotal } from '../metrics/metrics.ts';
import { type DurationStats, durationField, estimateSeconds } from '../queue/eta.ts';
import type { GenerateJobData, GenerateResult, MemberRef } from '../queue/job-data.ts';
import { generateJobOptions } from '../queue/queues.ts';
import { requestFingerprint, wordsForMatching } from './fingerprint.ts';
import { jobIdFor } from './job-id.ts';
import { type AdmissionKeys, GENERATE_QUEUE, scopeKey } from './keys.ts';
import type { QuotaStore } from './quota-store.ts';
import { refusal } from './refusal-messages.ts';
import { scopeNoun } from './scope-admin.ts';
import type { ScriptedRedis } from './scripts.ts';
import type { AdmissionInput, AdmissionResult, RefusalReason } from './types.ts';

export interface AdmissionDeps {
  config: Config;
  logger: Logger;
  redis: ScriptedRedis;
  keys: AdmissionKeys;
  generate: Queue<GenerateJobData, GenerateResult>;
  quotas: QuotaStore;
  reservations: Reservations;
  durations: DurationStats;
  /** Position of a job already queued (for a repeated request id). */
  positionOf: (jobId: string) => Promise<number>;
  balanceOf: (member: MemberRef) => Promise<Balance>;
  clock: () => number;
  ledgerMaxLen: number;
}

/**
 * Admission: one Lua script makes every check and the reservation atomically, then the BullMQ job
 * is added under an id derived from the request id. If adding fails the reservation is undone; if
 * the process dies in between, the sweeper releases the reservation (its job never appeared) and a
 * repeat of the request adds the job again under the same id.
 */
export class Admission {
  private readonly rates;
  private readonly jobOptions;

  constructor(private readonly deps: AdmissionDeps) {
    this.rates = ratesFromConfig(deps.config);
    this.jobOptions = generateJobOptions(Math.round(deps.config.IMAGE_RETENTION_HOURS * 3600));
  }

  async admit(input: AdmissionInput): Promise<AdmissionResult> {
    const stopTimer = admissionSeconds.startTimer();
    try {
      const result = await this.decide(input);
      admissionsTotal.inc({ outcome: result.accepted ? 'accepted' : result.reason });
      return result;
    } finally {
      stopTimer();
    }
  }

  private async decide(input: AdmissionInput): Promise<AdmissionResult> {
    const { redis, keys, clock, config } = this.deps;
    const { member, request } = input;
    assertMember(member);
    if (typeof input.requestId !== 'string' || input.requestId === '' || input.requestId.length > 200) {
      throw UserError.invalid([{ field: 'requestId', message: 'requestId must have 1 to 200 characters' }]);
    }
    const cost = computeCost(request, this.rates);
    const costMilli = toMilli(cost);
    const now = clock();
    const jobId = jobIdFor(member.scope, input.requestId);
    const fingerprint = requestFingerprint(request, input.allowRepeat === true);
    const memberKeys = keys.forMember(member);
    const data: GenerateJobData = {
      v: 1,
      requestId: input.requestId,
      request,
      member,
      origin: input.origin,
      cost,
      createdAt: now,
    };
    const defaults = this.deps.quotas.defaults();

    let reply: (string | number)[];
    try {
      reply = (await redis.easelAdmit(
        memberKeys.member,
        memberKeys.ledger,
        memberKeys.pending,
        keys.duplicate(member, fingerprint),
        keys.reservation(jobId),
        keys.openReservations,
        keys.policy(member.scope),
        keys.suspended(member.scope),
        keys.scopeSpent(member.scope, utcDay(now)),
        keys.members(member.scope),
        keys.queueKey(GENERATE_QUEUE, 'prioritized'),
        keys.queueKey(GENERATE_QUEUE, 'wait'),
        keys.queueKey(GENERATE_QUEUE, 'active'),
        member.userId,
        now,
        utcDay(now),
        costMilli,
        config.DUPLICATE_WINDOW_S * 1000,
        JSON.stringify(defaults),
        JSON.stringify(member.roles ?? []),
        wordsForMatching(request.prompt),
        request.width * request.height,
        request.steps,
        jobId,
        JSON.stringify(data),
        this.deps.ledgerMaxLen,
        scopeKey(member.scope),
        fingerprint,
      )) as (string | number)[];
    } catch (error) {
      throw unavailable(error);
    }

    const [outcome] = reply;
    if (outcome === 'refused') {
      const [, reason, retryAfterMs, detail] = reply;
      return refusal(reason as RefusalReason, Number(retryAfterMs), String(detail), {
        cost,
        scopeNoun: scopeNoun(member.scope),
      });
    }
    if (outcome === 'existing') return this.repeat(jobId, input, String(reply[1]), fromMilli(reply[2] ?? 0));

    const [, position, balanceMilli, priority, active] = reply;
    try {
      await this.deps.generate.add('generate', data, {
        ...this.jobOptions,
        jobId,
        priority: Number(priority),
      });
    } catch (error) {
      this.deps.logger.error(
        { err: error, jobId },
        'enqueueing an admitted job failed; undoing the admission',
      );
      await this.deps.reservations.settle(jobId, 'undo', 'could not enqueue').catch((undoError: unknown) => {
        // Redis went away mid-admission: the sweeper releases the reservation once it can.
        this.deps.logger.warn({ err: undoError, jobId }, 'undo failed; the sweeper will release it');
      });
      throw unavailable(error);
    }
    const etaSeconds = await this.eta(data, Number(position), Number(active));
    return {
      accepted: true,
      jobId,
      position: Number(position),
      cost,
      balance: fromMilli(balanceMilli ?? 0),
      ...(etaSeconds !== undefined ? { etaSeconds } : {}),
    };
  }

  /** The same request id again: the same job, whatever state it reached. */
  private async repeat(
    jobId: string,
    input: AdmissionInput,
    status: string,
    cost: number,
  ): Promise<AdmissionResult> {
    if (status === 'reserved') {
      // The first admission may have died before adding its job: adding under the same id again is
      // harmless (BullMQ keeps the existing job) and completes it.
      const stored = await this.deps.reservations.read(jobId, true);
      if (stored?.data) {
        const data = JSON.parse(stored.data) as GenerateJobData;
        const priority = Number(await this.deps.redis.hget(this.deps.keys.reservation(jobId), 'priority'));
        await this.deps.generate
          .add('generate', data, { ...this.jobOptions, jobId, priority: priority || 1 })
          .catch((error: unknown) => {
            throw unavailable(error);
          });
      }
    }
    const balance = (await this.deps.balanceOf(input.member)).total;
    const position = status === 'reserved' ? await this.deps.positionOf(jobId) : 0;
    return { accepted: true, jobId, position, cost, balance };
  }

  private async eta(data: GenerateJobData, position: number, active: number): Promise<number | undefined> {
    const averages = await this.deps.durations
      .averages(durationField(data.request.model, data.request.width, data.request.height))
      .catch(() => ({}));
    return estimateSeconds({ position, active, ...averages });
  }
}

export function unavailable(cause: unknown): UserError {
  const error = new UserError(
    'unavailable',
    'The image queue is unreachable right now, so nothing was queued or charged. Please try again in a minute.',
  );
  (error as Error).cause = cause;
  return error;
}
