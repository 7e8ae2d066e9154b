import { UserError } from '../../../errors/user-error.ts';
import type { JobView } from '../../../queue/job-view.ts';
import type { SlackDeps } from '../slack-deps.ts';

/**
 * The job a button acts on, read from Redis (buttons carry only its id, so they work after a
 * restart), and only if it belongs to the workspace the button was pressed in: a forged or copied
 * action id naming another workspace's job acts on nothing.
 */
export async function sourceJob(deps: SlackDeps, jobId: string, teamId: string): Promise<JobView> {
  const view = await deps.services.jobs.get(jobId);
  if (!view) {
    throw new UserError(
      'not-found',
      `That job is no longer kept (results are kept ${deps.config.IMAGE_RETENTION_HOURS} hours); run /imagine again. Nothing was queued.`,
    );
  }
  const scope = view.data.member.scope;
  if (scope.kind !== 'slack' || scope.id !== teamId) {
    throw new UserError(
      'forbidden',
      'That button belongs to a job of another workspace. Nothing was queued.',
    );
  }
  return view;
}
