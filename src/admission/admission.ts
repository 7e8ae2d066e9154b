import { Job, type Queue } from 'bullmq';
import type { Config } from '../config/schema.ts';
import { type CreditRates, computeCost, ratesFromConfig } from '../credits/cost.ts';
import { assertMember } from '../credits/credit-store.ts';
import type { Balance } from '../credits/types.ts';
import { fromMilli, toMilli, utcDay } from '../credits/units.ts';
import { UserError } from '../errors/user-error.ts';
import type { Logger } from '../log/logger.ts';
import type { MemberRef } from '../members/member-ref.ts';
import { admissionSeconds, admissionsTotal } from '../metrics/metrics.ts';
import { type DurationStats, durationField, estimateSeconds } from '../queue/eta.ts';
import type { GenerateJobData, GenerateResult } from '../queue/job-data.ts';
import { generateJobOptions } from '../queue/queues.ts';
import type { QuotaStore } from '../quotas/quota-store.ts';
import { scopeNoun } from '../quotas/scope-admin.ts';
import { wordsForMatching } from '../request/words.ts';
import { GENERATE_QUEUE, type StateKeys, scopeKey } from '../state/keys.ts';
import type { ScriptedRedis } from '../state/scripts.ts';
import { requestFingerprint } from './fingerprint.ts';
import { jobIdFor } from './job-id.ts';
import { readRefusal } from './refusal.ts';
import type { AdmissionInput, AdmissionResult, RefusalReason } from './types.ts';

export interface AdmissionDeps {
  config: Config;
  logger: Logger;
  redis: ScriptedRedis;
  keys: StateKeys;
  generate: Queue<GenerateJobData, GenerateResult>;
  quotas: QuotaStore;
  durations: DurationStats;
  /** Position of a job already queued (for a repeated request id). */
  positionOf: (jobId: string) => Promise<number>;
  balanceOf: (member: MemberRef) => Promise<Balance>;
  clock: () => number;
  ledgerMaxLen: number;
  /** Why no live worker can render a model (undefined: some can, or none is online to ask). */
  modelProblem?: (model: string) => string | undefined | Promise<string | undefined>;
  /** Refuses (throws a UserError) an input image the scope's NSFW policy blocks (input-image-screening.ts). */
  screenInput?: (input: AdmissionInput) => Promise<void>;
  /**
   * Refuses (rejects with a UserError) a request whose LoRAs or embeddings are not installed, cannot
   * be read or are for another family (add-on-admission.ts); undefined when the request uses none.
   */
  checkAddOns?: (input: AdmissionInput) => Promise<void> | undefined;
}

/** Most requests one script run judges; bounds how long Redis is busy with one call. */
const MAX_BATCH = 100;

type Reply = (string | number)[];

interface Pending {
  input: AdmissionInput;
  promptWords: string;
  cost: number;
  jobId: string;
  fingerprint: string;
  resolve: (result: AdmissionResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Admission: one Lua script makes every check, the reservation and the BullMQ job (written as
 * BullMQ's own add script writes it; see scripts.ts) in one atomic step, so there is never a
 * reservation without its job or a job without its reservation. The job id derives from the request id, which
 * makes a repeated request find its first answer.
 *
 * Requests that arrive together (a burst of interactions) are judged in one script run: one round
 * trip for the whole burst. Each request is still judged alone, in arrival order, exactly as if
 * it had come by itself.
 */
export class Admission {
  private readonly rates: CreditRates;
  private readonly defaultsJson: string;
  /** The job options as BullMQ stores them (its Job normalizes them); priority and id come per job. */
  private readonly jobOptionsJson: string;
  private waiting: Pending[] = [];
  private flushScheduled = false;

  constructor(private readonly deps: AdmissionDeps) {
    this.rates = ratesFromConfig(deps.config);
    const jobOptions = generateJobOptions(Math.round(deps.config.IMAGE_RETENTION_HOURS * 3600));
    // The defaults per scope kind where they differ (the script picks by the scope key's kind).
    this.defaultsJson = JSON.stringify({
      default: deps.quotas.defaults(),
      cli: deps.quotas.defaults('cli'),
      api: deps.quotas.defaults('api'),
    });
    const {
      priority: _priority,
      jobId: _jobId,
      ...opts
    } = new Job(deps.generate, 'generate', {}, jobOptions).opts;
    this.jobOptionsJson = JSON.stringify(opts);
  }

  admit(input: AdmissionInput): Promise<AdmissionResult> {
    const stopTimer = admissionSeconds.startTimer();
    let decided: Promise<AdmissionResult>;
    try {
      const judge = () => this.decideWhenServed(input);
      const screen = this.deps.screenInput;
      const addOns = this.deps.checkAddOns?.(input);
      const judgeChecked = addOns === undefined ? judge : () => addOns.then(judge);
      // Only requests with an input image (or add-ons) wait for their check; the others keep their place in a burst.
      decided =
        screen !== undefined && input.request.initImage !== undefined
          ? screen(input).then(judgeChecked)
          : judgeChecked();
    } catch (error) {
      stopTimer();
      return Promise.reject(error);
    }
    return decided.then(
      (result) => {
        stopTimer();
        admissionsTotal.inc({ outcome: result.accepted ? 'accepted' : result.reason });
        return result;
      },
      (error: unknown) => {
        stopTimer();
        throw error;
      },
    );
  }

  /**
   * A model no live worker has installed is refused here, reserving nothing, rather than queued to
   * fail in a worker. The answer is synchronous while the workers' snapshot is fresh, so the
   * requests of a burst still reach `decide` as they arrive and go to Redis in full batches while
   * the rest are being prepared.
   */
  private decideWhenServed(input: AdmissionInput): Promise<AdmissionResult> {
    const problem = this.deps.modelProblem?.(input.request.model);
    if (problem instanceof Promise) return problem.then((known) => this.decideServed(input, known));
    return this.decideServed(input, problem);
  }

  private decideServed(input: AdmissionInput, problem: string | undefined): Promise<AdmissionResult> {
    if (problem !== undefined) throw UserError.invalid([{ field: 'model', message: `model: ${problem}` }]);
    return this.decide(input);
  }

  private decide(input: AdmissionInput): Promise<AdmissionResult> {
    assertMember(input.member);
    if (typeof input.requestId !== 'string' || input.requestId === '' || input.requestId.length > 200) {
      throw UserError.invalid([{ field: 'requestId', message: 'requestId must have 1 to 200 characters' }]);
    }
    const promptWords = wordsForMatching(input.request.prompt);
    return new Promise<AdmissionResult>((resolve, reject) => {
      this.waiting.push({
        input,
        promptWords,
        cost: computeCost(input.request, this.rates),
        jobId: jobIdFor(input.member.scope, input.requestId),
        fingerprint: requestFingerprint(input.request, input.allowRepeat === true, promptWords),
        resolve,
        reject,
      });
      if (this.waiting.length >= MAX_BATCH) {
        // A full batch goes at once: in a burst, Redis starts on it while the rest is prepared.
        const batch = this.waiting.splice(0, MAX_BATCH);
        this.send(batch);
      } else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.waiting.length > 0) {
      this.send(this.waiting.splice(0, MAX_BATCH));
    }
  }

  private send(batch: Pending[]): void {
    void this.run(batch).catch((error: unknown) => {
      for (const item of batch) item.reject(error);
    });
  }

  private async run(batch: Pending[]): Promise<void> {
    const { redis, keys, clock } = this.deps;
    const now = clock();
    const today = utcDay(now);
    const queueKey = (suffix: string) => keys.queueKey(GENERATE_QUEUE, suffix);
    const keyList: string[] = [
      keys.openReservations,
      queueKey('wait'),
      queueKey('active'),
      queueKey('meta'),
      queueKey('id'),
      queueKey('prioritized'),
      queueKey('events'),
      queueKey('pc'),
      queueKey('marker'),
    ];
    const args: (string | number)[] = [
      now,
      today,
      this.deps.config.DUPLICATE_WINDOW_S * 1000,
      this.defaultsJson,
      this.deps.ledgerMaxLen,
      'generate',
      this.jobOptionsJson,
    ];
    // The scope's keys and key go once per scope in the batch (a burst mostly comes from a few
    // guilds or workspaces); each request names its scope by number. Fewer, shorter arguments
    // to encode here and to parse in Redis.
    const scopeNumbers = new Map<string, number>();
    const scopeKeys: string[] = [];
    const scopeArgs: string[] = [];
    const requestKeys: string[] = [];
    const requestArgs: (string | number)[] = [];
    const jobData: GenerateJobData[] = [];
    for (const item of batch) {
      const { member, request } = item.input;
      const scope = scopeKey(member.scope);
      let scopeNumber = scopeNumbers.get(scope);
      if (scopeNumber === undefined) {
        scopeNumber = scopeNumbers.size + 1;
        scopeNumbers.set(scope, scopeNumber);
        scopeKeys.push(
          keys.policy(scope),
          keys.suspended(scope),
          keys.scopeSpent(scope, today),
          keys.members(scope),
        );
        scopeArgs.push(scope);
      }
      const memberKeys = keys.forMemberParts(scope, member.userId);
      const data: GenerateJobData = {
        v: 1,
        requestId: item.input.requestId,
        request,
        member,
        origin: item.input.origin,
        cost: item.cost,
        createdAt: now,
      };
      jobData.push(data);
      requestKeys.push(
        memberKeys.member,
        memberKeys.ledger,
        keys.reservation(item.jobId),
        queueKey(item.jobId),
      );
      requestArgs.push(
        member.userId,
        toMilli(item.cost),
        JSON.stringify(member.roles ?? []),
        item.promptWords,
        request.width * request.height,
        request.steps,
        item.jobId,
        JSON.stringify(data),
        scopeNumber,
        item.fingerprint.slice(0, 16),
        item.input.followUp === true ? 'f' : 'p',
      );
    }
    const numberOfKeys = keyList.length + scopeKeys.length + requestKeys.length;
    args.push(scopeArgs.length);

    let replies: Reply[];
    try {
      replies = (await redis.easelAdmitBatch(
        numberOfKeys,
        ...keyList,
        ...scopeKeys,
        ...requestKeys,
        ...args,
        ...scopeArgs,
        ...requestArgs,
      )) as Reply[];
    } catch (error) {
      throw unavailable(error);
    }
    batch.forEach((item, index) => {
      const reply = replies[index];
      if (!reply) {
        item.reject(new Error(`admission script gave no answer for request ${index}`));
        return;
      }
      try {
        // Synchronous for all but a repeated request (which reads the job's state).
        const answer = this.answer(item, reply, jobData[index] as GenerateJobData);
        if (answer instanceof Promise) answer.then(item.resolve, item.reject);
        else item.resolve(answer);
      } catch (error) {
        item.reject(error);
      }
    });
  }

  private answer(
    item: Pending,
    reply: Reply,
    data: GenerateJobData,
  ): AdmissionResult | Promise<AdmissionResult> {
    switch (reply[0]) {
      case 'refused': {
        const [, reason, retryAfterMs, detail] = reply;
        return readRefusal(reason as RefusalReason, Number(retryAfterMs), String(detail), {
          cost: item.cost,
          scopeNoun: scopeNoun(item.input.member.scope),
        });
      }
      case 'error':
        throw unavailable(new Error(`admission script failed: ${String(reply[1])}`));
      case 'existing':
        return this.repeat(item.jobId, item.input, String(reply[1]), fromMilli(reply[2] ?? 0));
      case 'accepted': {
        const [, position, balanceMilli, , active] = reply;
        const etaSeconds = this.eta(data, Number(position), Number(active));
        return {
          accepted: true,
          jobId: item.jobId,
          position: Number(position),
          cost: item.cost,
          balance: fromMilli(balanceMilli ?? 0),
          ...(etaSeconds !== undefined ? { etaSeconds } : {}),
        };
      }
      default:
        throw new Error(`unexpected admission reply ${JSON.stringify(reply)}`);
    }
  }

  /** The same request id again: the same job, whatever state it reached. */
  private async repeat(
    jobId: string,
    input: AdmissionInput,
    status: string,
    cost: number,
  ): Promise<AdmissionResult> {
    try {
      const balance = (await this.deps.balanceOf(input.member)).total;
      const position = status === 'reserved' ? await this.deps.positionOf(jobId) : 0;
      return { accepted: true, jobId, position, cost, balance };
    } catch (error) {
      throw error instanceof UserError ? error : unavailable(error);
    }
  }

  /** From the cached averages (refreshed in the background): admission waits for nothing else. */
  private eta(data: GenerateJobData, position: number, active: number): number | undefined {
    const { model, width, height } = data.request;
    return estimateSeconds({
      position,
      active,
      ...this.deps.durations.cached(durationField(model, width, height)),
    });
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
