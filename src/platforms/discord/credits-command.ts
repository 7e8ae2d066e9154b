import { type ChatInputCommandInteraction, MessageFlags } from 'discord.js';
import { isUserError } from '../../errors/user-error.ts';
import { refusalAnswer } from './answers.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { memberOf } from './interaction-context.ts';
import { MESSAGE_MAX, truncate } from './status-text.ts';

const HISTORY = 5;

/** `/credits`: the member's balance, allowance and its reset, and recent history, privately. */
export async function onCredits(deps: DiscordDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  const member = memberOf(interaction);
  try {
    const [balance, history] = await Promise.all([
      deps.services.credits.balance(member),
      deps.services.credits.history(member, HISTORY),
    ]);
    const lines = [
      `💳 **${balance.total} credits** (${balance.allowanceLeft} of today’s ${balance.dailyAllowance} left, ${balance.granted} granted)`,
      `Your daily allowance resets <t:${Math.floor(balance.resetsAt / 1000)}:R>.`,
    ];
    if (balance.reserved > 0) lines.push(`⏳ ${balance.reserved} held by jobs in progress.`);
    if (history.length > 0) {
      lines.push('**Recent**');
      for (const e of history) {
        const sign = e.amount > 0 ? '+' : '';
        lines.push(
          `• <t:${Math.floor(e.at / 1000)}:R> ${sign}${e.amount} ${e.kind}${e.reason ? ` — ${e.reason}` : ''}`,
        );
      }
    }
    await interaction.reply({
      content: truncate(lines.join('\n'), MESSAGE_MAX),
      flags: MessageFlags.Ephemeral,
    });
  } catch (error) {
    if (!isUserError(error)) throw error;
    await interaction.reply({ content: refusalAnswer(error).content, flags: MessageFlags.Ephemeral });
  }
}
