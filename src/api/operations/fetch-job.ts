import { ApiError } from '../api-error.ts';
import type { ApiKeyRecord } from '../key-store.ts';
import type { OperationContext } from './generate.ts';
import { type JobOutcome, outcomeOf } from './job-outcome.ts';

/**
 * The fetch operation: a job of the calling key, where it stands now. Anyone else's job is "not
 * found", not "forbidden", so ids cannot be probed.
 */
export async function fetchJob(
  ctx: Pick<OperationContext, 'services'>,
  key: ApiKeyRecord | undefined,
  id: string,
): Promise<JobOutcome> {
  const view = id.length <= 200 ? await ctx.services.jobs.get(id) : undefined;
  const origin = view?.data.origin;
  if (!view || origin?.platform !== 'api' || origin.keyId !== key?.id) {
    throw ApiError.of(
      404,
      'Job not found',
      `No job "${id.slice(0, 80)}" for this key. Use the id of an answer.`,
    );
  }
  return outcomeOf(view);
}
