import { type ChatInputCommandInteraction, MessageFlags } from 'discord.js';
import { describeBalance, describeLedgerEntry, handleCredits } from '../../../commands/credits.ts';
import { isUserError } from '../../errors/user-error.ts';
import type { MemberRef } from '../../members/member-ref.ts';
import { refusalAnswer } from './answers.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { memberOf } from './interaction-context.ts';
import { formatEta, jobTitle, MESSAGE_MAX, truncate } from './status-text.ts';

const HISTORY = 5;
const PENDING_SHOWN = 5;

/** The member's jobs still queued or rendering, with their places in line. */
async function pendingLines(deps: DiscordDeps, member: MemberRef): Promise<string[]> {
  const jobIds = await deps.services.credits.pending(member, PENDING_SHOWN);
  const views = await Promise.all(jobIds.map((id) => deps.services.jobs.get(id)));
  return views.flatMap((view) => {
    if (!view || (view.state !== 'waiting' && view.state !== 'delayed' && view.state !== 'active')) return [];
    const eta = formatEta(view.etaSeconds);
    const where =
      view.state === 'active'
        ? `rendering${view.progress ? ` ${view.progress.step}/${view.progress.total}` : ''}`
        : `#${view.position ?? '?'} in line${eta ? `, ready in ${eta}` : ''}`;
    return [`• ${jobTitle(view.data.request)} — ${where}`];
  });
}

/**
 * `/credits`, privately: balance, today's allowance and when it resets, jobs still pending with
 * their places in line, and recent history. The wording is shared with Slack (commands/credits.ts).
 */
export async function onCredits(deps: DiscordDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  const member = memberOf(interaction);
  try {
    const [{ balance, history }, pending] = await Promise.all([
      handleCredits(deps.services, member, HISTORY),
      pendingLines(deps, member),
    ]);
    const lines = [`💳 ${describeBalance(balance)}`];
    if (pending.length > 0) lines.push('**Pending**', ...pending);
    if (history.length > 0) lines.push('**Recent**', ...history.map((e) => `• ${describeLedgerEntry(e)}`));
    await interaction.reply({
      content: truncate(lines.join('\n'), MESSAGE_MAX),
      flags: MessageFlags.Ephemeral,
    });
  } catch (error) {
    if (!isUserError(error)) throw error;
    await interaction.reply({ content: refusalAnswer(error).content, flags: MessageFlags.Ephemeral });
  }
}
