import { type ChatInputCommandInteraction, MessageFlags } from 'discord.js';
import { handleGrant } from '../../../commands/credits.ts';
import { handleQuotaSet, handleQuotaShow, quotaSetChanges } from '../../../commands/quota.ts';
import { QUOTA_COMMAND } from '../../../commands/quota-options.ts';
import { isUserError, UserError } from '../../errors/user-error.ts';
import type { MemberRef } from '../../members/member-ref.ts';
import type { QuotaChanges, QuotaView } from '../../quotas/quota-policy.ts';
import { scopeNoun } from '../../quotas/scope-admin.ts';
import { refusalAnswer } from './answers.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { discordScope, isServerAdmin, memberOf } from './interaction-context.ts';
import { MESSAGE_MAX, truncate } from './status-text.ts';
import { typedOptions } from './typed-options.ts';

/**
 * `/quota` for server admins. Discord hides it from members without Manage Guild
 * (`default_member_permissions`), but server admins can change who sees a command, so the
 * permission is checked here again, and once more where the change is made.
 */
function words(text: string | null): string[] {
  return (text ?? '')
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
}

function showPolicy(view: QuotaView): string {
  const tiers = view.tiers.map((t) => {
    const parts = [
      t.dailyAllowance !== undefined ? `allowance ${t.dailyAllowance}` : '',
      t.cooldownS !== undefined ? `cooldown ${t.cooldownS} s` : '',
      t.pendingCap !== undefined ? `pending cap ${t.pendingCap}` : '',
      t.maxPixels !== undefined ? `max ${t.maxPixels} px` : '',
      t.maxSteps !== undefined ? `max ${t.maxSteps} steps` : '',
      t.priority !== undefined ? `priority ${t.priority}` : '',
    ].filter(Boolean);
    return `• <@&${t.role}>: ${parts.join(', ') || 'defaults'}`;
  });
  return [
    '**Quota policy of this server**',
    `Daily allowance: ${view.dailyAllowance} credits · cooldown ${view.cooldownS} s · pending cap ${view.pendingCap}`,
    `Largest image: ${view.maxPixels.toLocaleString('en-US')} pixels · most steps: ${view.maxSteps}`,
    `Server budget: ${view.dailyCap === 0 ? 'no cap' : `${view.dailyCap} credits a day`} · NSFW: ${view.nsfw}`,
    `Banned words: ${view.bannedWords.length ? view.bannedWords.map((w) => `\`${w}\``).join(', ') : 'none'}`,
    `Suspended: ${view.suspended.length ? view.suspended.map((id) => `<@${id}>`).join(', ') : 'nobody'}`,
    ...(tiers.length ? ['**Role tiers**', ...tiers] : []),
  ].join('\n');
}

/** `/quota set`'s typed options, read by the names commands/quota-options.ts declares. */
const SET_OPTIONS = QUOTA_COMMAND.subcommands?.find((s) => s.name === 'set')?.options ?? [];

function setChanges(interaction: ChatInputCommandInteraction): QuotaChanges {
  return quotaSetChanges(typedOptions(interaction, SET_OPTIONS), interaction.options.getRole('role')?.id);
}

export async function onQuota(deps: DiscordDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  const member: MemberRef = memberOf(interaction);
  const scope = discordScope(interaction.guildId!);
  const admin = { member, isAdmin: isServerAdmin(interaction) };
  const say = (content: string) =>
    interaction.reply({
      content: truncate(content, MESSAGE_MAX),
      flags: MessageFlags.Ephemeral,
      allowedMentions: { parse: [] },
    });
  try {
    if (!admin.isAdmin) {
      throw UserError.refused({
        reason: 'not-admin',
        scopeNoun: scopeNoun(scope),
        permission: 'Manage Server',
        task: { command: '/quota' },
      });
    }
    const o = interaction.options;
    const sub = o.getSubcommand();
    const { services } = deps;
    switch (sub) {
      case 'show':
        await say(showPolicy(await handleQuotaShow(services, scope)));
        return;
      case 'set':
        await say(
          `✅ Saved.\n${showPolicy(await handleQuotaSet(services, admin, scope, setChanges(interaction)))}`,
        );
        return;
      case 'remove-tier': {
        const role = o.getRole('role', true);
        await say(
          `✅ Removed the tier of <@&${role.id}>.\n${showPolicy(await handleQuotaSet(services, admin, scope, { tiers: { remove: [role.id] } }))}`,
        );
        return;
      }
      case 'grant': {
        const user = o.getUser('member', true);
        const amount = o.getInteger('amount', true);
        const reason = o.getString('reason') ?? `granted by ${member.displayName ?? member.userId}`;
        const balance = await handleGrant(services, admin, { scope, userId: user.id }, amount, reason);
        await say(`✅ Gave ${amount} credits to <@${user.id}>; they now have ${balance.total}.`);
        return;
      }
      case 'nsfw': {
        const policy = o.getString('policy', true) as QuotaChanges['nsfw'];
        await handleQuotaSet(services, admin, scope, { nsfw: policy! });
        await say(`✅ NSFW policy is now **${policy}**.`);
        return;
      }
      case 'banned-words': {
        const add = words(o.getString('add'));
        const remove = words(o.getString('remove'));
        if (add.length + remove.length === 0) {
          throw UserError.refused({
            reason: 'missing-argument',
            operation: 'banned-words',
            expected: 'words-to-add-or-remove',
          });
        }
        const view = await handleQuotaSet(services, admin, scope, { bannedWords: { add, remove } });
        await say(
          `✅ Banned words: ${view.bannedWords.length ? view.bannedWords.map((w) => `\`${w}\``).join(', ') : 'none'}`,
        );
        return;
      }
      case 'suspend':
      case 'unsuspend': {
        const user = o.getUser('member', true);
        await handleQuotaSet(
          services,
          admin,
          scope,
          sub === 'suspend' ? { suspend: [user.id] } : { unsuspend: [user.id] },
        );
        await say(
          sub === 'suspend'
            ? `✅ <@${user.id}> is suspended in this server.`
            : `✅ <@${user.id}> may generate again.`,
        );
        return;
      }
      default:
        await say(`⚠️ /quota has no ${sub} subcommand.`);
    }
  } catch (error) {
    if (!isUserError(error)) throw error;
    await say(refusalAnswer(error).content);
  }
}
