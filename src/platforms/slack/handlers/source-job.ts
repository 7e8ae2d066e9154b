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
  if (!view)
    throw UserError.refused({ reason: 'job-gone', retentionHours: deps.config.IMAGE_RETENTION_HOURS });
  const scope = view.data.member.scope;
  if (scope.kind !== 'slack' || scope.id !== teamId) {
    throw UserError.refused({ reason: 'other-scope-job', scopeNoun: 'workspace' });
  }
  return view;
}
