import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Services } from '../src/app/services.ts';
import { UserError } from '../src/errors/user-error.ts';
import type { MemberRef } from '../src/members/member-ref.ts';
import type { Origin } from '../src/queue/job-data.ts';
import type { GenerationRequest } from '../src/request/types.ts';
import { StateKeys } from '../src/state/keys.ts';
import { admitAndReply, type CommandReply } from './admit-and-reply.ts';
import { credits } from './credits.ts';

/**
 * Several jobs from one message (permutations `a {red, blue} cat`, `--repeat N`) wait in Redis for
 * the member's confirmation, which shows how many jobs and what they cost in all. Nothing is queued
 * or charged before it: the confirmation button takes the batch (once: a second press finds none)
 * and each job then goes through admission like any other.
 */
export interface PendingBatch {
  v: 1;
  member: MemberRef;
  requests: GenerationRequest[];
  /** Credits the jobs cost together at today's prices (admission charges each job's own). */
  totalCost: number;
}

/** As long as a Discord interaction token lives, so the confirmation's buttons never outlive it. */
export const BATCH_TTL_S = 15 * 60;

export class BatchStore {
  private readonly keys: StateKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new StateKeys(prefix);
  }

  async put(batch: PendingBatch): Promise<string> {
    const id = `b${randomBytes(8).toString('hex')}`;
    await this.redis.set(this.keys.pendingBatch(id), JSON.stringify(batch), 'EX', BATCH_TTL_S);
    return id;
  }

  /** The batch, removed as it is read: whoever takes it runs it, a second press finds nothing. */
  async take(id: string): Promise<PendingBatch | undefined> {
    const text = await this.redis.getdel(this.keys.pendingBatch(id));
    return text ? (JSON.parse(text) as PendingBatch) : undefined;
  }

  async peek(id: string): Promise<PendingBatch | undefined> {
    const text = await this.redis.get(this.keys.pendingBatch(id));
    return text ? (JSON.parse(text) as PendingBatch) : undefined;
  }
}

const GONE = () => UserError.refused({ reason: 'confirmation-gone' });

/**
 * The batch a confirmation button names, taken for its member to run (or to drop). Only the member
 * who asked may answer it.
 */
export async function takeBatch(
  services: Pick<Services, 'redis' | 'prefix'>,
  batchId: string,
  member: MemberRef,
): Promise<PendingBatch> {
  const store = new BatchStore(services.redis, services.prefix);
  const batch = await store.peek(batchId);
  if (!batch) throw GONE();
  if (batch.member.userId !== member.userId || batch.member.scope.id !== member.scope.id) {
    throw UserError.refused({ reason: 'not-your-confirmation' });
  }
  const taken = await store.take(batchId);
  if (!taken) throw GONE();
  return taken;
}

/**
 * Admits the `index`-th job of a confirmed batch. The first is a new prompt (the cooldown applies
 * and restarts); the others belong to the same confirmed message, so the cooldown does not space
 * them, and repeats of one prompt are meant, so the duplicate filter lets them through. The pending
 * cap, credits and the scope's budget still hold for each.
 */
export function admitBatchJob(
  services: Pick<Services, 'admission'>,
  input: { batch: PendingBatch; index: number; requestId: string; member: MemberRef; origin: Origin },
): Promise<CommandReply> {
  const request = input.batch.requests[input.index];
  if (!request) throw new Error(`batch has no job ${input.index}`);
  return admitAndReply(services, {
    requestId: `${input.requestId}:${input.index}`,
    member: input.member,
    origin: input.origin,
    request,
    allowRepeat: true,
    ...(input.index > 0 ? { followUp: true } : {}),
  });
}

/** The confirmation's text, the same on every platform: how many jobs, the total cost, the prompts. */
export function confirmationLines(reply: { prompts: string[]; totalCost: number }): string[] {
  const jobs = reply.prompts.length;
  return [
    `This makes ${jobs} jobs for ${credits(reply.totalCost)} in all:`,
    ...reply.prompts.map((p, i) => `${i + 1}. ${p}`),
    'Queue them all?',
  ];
}

/** What a confirmed batch came to, for the member's private summary. */
export function batchSummary(replies: CommandReply[], jobs: number): string {
  const queued = replies.filter((r) => r.status === 'accepted').length;
  const refused = replies.find((r) => r.status === 'refused');
  const head = queued === jobs ? `Queued all ${jobs} jobs.` : `Queued ${queued} of ${jobs} jobs.`;
  if (queued === jobs || refused?.status !== 'refused') return head;
  return `${head} The rest were not queued and cost nothing: ${refused.error.message}`;
}
