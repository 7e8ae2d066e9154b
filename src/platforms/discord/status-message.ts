import { cancellable, type StatusJob, type StatusState } from '../../../commands/status-lifecycle.ts';
import { cancelRow } from './components.ts';
import { statusText } from './status-text.ts';

/**
 * A job's status message on Discord in one state of its lifecycle (commands/status-lifecycle.ts):
 * the text (with the member's balance when it was just charged), and Cancel while the job can
 * still be cancelled. Mentions are the caller's to allow.
 */
export function statusMessage(jobId: string, job: StatusJob, state: StatusState, balance?: number) {
  return {
    content: statusText({
      request: job.request,
      userId: job.member.userId,
      cost: job.cost ?? 0,
      ...(balance !== undefined ? { balance } : {}),
      state,
    }),
    components: cancellable(state) ? cancelRow(jobId) : [],
  };
}
