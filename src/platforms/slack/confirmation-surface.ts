import type { ConfirmationNotice, ConfirmationSurface } from '../../../commands/batch-answer.ts';
import type { SlackOrigin } from '../../queue/job-data.ts';
import { slackAnswer } from './command-surface.ts';
import type { SlackDeps } from './slack-deps.ts';
import type { StatusRecord } from './status-store.ts';
import { type EphemeralTarget, slackRefusalText, tellMember } from './tell-member.ts';

/**
 * A batch's confirmation answered on Slack (commands/batch-answer.ts): the private confirmation is
 * replaced through the press's `response_url`; each job gets its own parent message in the channel,
 * like an /imagine.
 */
export function slackConfirmation(
  deps: SlackDeps,
  tell: EphemeralTarget,
  origin: SlackOrigin,
): ConfirmationSurface<StatusRecord> {
  const answer = slackAnswer(deps, tell);
  return {
    async replaceConfirmation(notice) {
      const text = confirmationText(notice);
      if (!tell.respond) return tellMember(tell, text, deps.logger);
      await tell
        .respond({ response_type: 'ephemeral', replace_original: true, text })
        .catch((err: unknown) => deps.logger.warn({ err }, 'could not update the batch confirmation'));
    },
    jobSlot: async () => ({ origin, answer }),
  };
}

function confirmationText(notice: ConfirmationNotice): string {
  switch (notice.kind) {
    case 'refusal':
      return slackRefusalText(notice.error);
    case 'said':
      return notice.text;
    case 'interrupted':
      return 'Something went wrong on my side while queuing; the jobs with a status message in the channel were queued, the rest cost nothing.';
  }
}
