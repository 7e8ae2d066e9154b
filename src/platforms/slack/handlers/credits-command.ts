import type { App } from '@slack/bolt';
import type { Balance, LedgerEntry } from '../../../credits/types.ts';
import { isUserError } from '../../../errors/user-error.ts';
import { credits } from '../blocks/status-message.ts';
import { type SlackDeps, slackMember } from '../slack-deps.ts';
import { SLASH_COMMANDS } from '../slash-commands.ts';

/**
 * `/imagine-credits`: the member's balance in this workspace (what is left of today's allowance,
 * granted credits, credits held by pending jobs, when the allowance resets) and recent history.
 * Only the member sees it.
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
      const [balance, history] = await Promise.all([
        deps.services.credits.balance(member),
        deps.services.credits.history(member, HISTORY),
      ]);
      await say(describeCredits(balance, history, Date.now()));
    } catch (error) {
      if (isUserError(error)) {
        await say(error.message);
        return;
      }
      deps.logger.error({ err: error }, '/imagine-credits failed');
      await say('Your credits could not be read just now; try again in a moment.');
    }
  });
}

export function describeCredits(balance: Balance, history: LedgerEntry[], now: number): string {
  const hours = Math.max(0, (balance.resetsAt - now) / 3_600_000);
  const resets =
    hours >= 1
      ? `${Math.floor(hours)} h ${Math.round((hours % 1) * 60)} min`
      : `${Math.ceil(hours * 60)} min`;
  const lines = [
    `*You have ${credits(balance.total)}* in this workspace.`,
    `• Today's allowance: ${balance.allowanceLeft} of ${balance.dailyAllowance} left, resets in ${resets} (00:00 UTC)`,
    `• Granted by admins: ${credits(balance.granted)} (never expire)`,
  ];
  if (balance.reserved > 0)
    lines.push(`• Held by jobs still queued or rendering: ${credits(balance.reserved)}`);
  if (history.length > 0) {
    lines.push('', '*Recent*');
    for (const entry of history) {
      const sign = entry.amount > 0 ? `+${entry.amount}` : `${entry.amount}`;
      const when = new Date(entry.at).toISOString().slice(5, 16).replace('T', ' ');
      lines.push(
        `• ${when} UTC  ${entry.kind} ${sign} → ${entry.balance}${entry.reason ? ` (${entry.reason})` : ''}`,
      );
    }
  }
  return lines.join('\n');
}
