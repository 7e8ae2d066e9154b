import type { App } from '@slack/bolt';
import { describeBalance, describeLedgerEntry, handleCredits } from '../../../../commands/credits.ts';
import { isUserError } from '../../../errors/user-error.ts';
import { type SlackDeps, slackMember } from '../slack-deps.ts';
import { SLASH_COMMANDS } from '../slash-commands.ts';
import { slackRefusalText } from '../tell-member.ts';

/**
 * `/imagine-credits`: the member's balance in this workspace (what is left of today's allowance,
 * granted credits, credits held by pending jobs, when the allowance resets) and recent history,
 * in the words every platform uses (commands/credits.ts). Only the member sees it.
 */
const HISTORY = 8;

export function registerCreditsCommand(app: App, deps: SlackDeps): void {
  app.command(SLASH_COMMANDS.credits, async ({ command, ack, respond }) => {
    await ack();
    const say = (text: string) => respond({ response_type: 'ephemeral', text });
    if (!command.team_id || !command.user_id) {
      await say('This /imagine-credits request is malformed (no team or user).');
      return;
    }
    const member = slackMember(command.team_id, command.user_id, command.user_name);
    try {
      const view = await handleCredits(deps.services, member, HISTORY);
      const lines = [describeBalance(view.balance)];
      if (view.history.length > 0) {
        lines.push('', '*Recent*', ...view.history.map((entry) => `• ${describeLedgerEntry(entry)}`));
      }
      await say(lines.join('\n'));
    } catch (error) {
      if (isUserError(error)) {
        await say(slackRefusalText(error));
        return;
      }
      deps.logger.error({ err: error }, '/imagine-credits failed');
      await say('Your credits could not be read just now; try again in a moment.');
    }
  });
}
