import type { App } from '@slack/bolt';
import { credits, handleGrant } from '../../../../commands/credits.ts';
import { describePolicy, handleQuotaSet, handleQuotaShow, quotaChange } from '../../../../commands/quota.ts';
import { quotaSettingNamed } from '../../../../commands/quota-options.ts';
import { isUserError } from '../../../errors/user-error.ts';
import type { AdminActor } from '../../../members/member-ref.ts';
import type { QuotaChanges, QuotaView } from '../../../quotas/quota-policy.ts';
import type { Refusal } from '../../../refusals/refusal.ts';
import { refusalText } from '../../../refusals/refusal-text.ts';
import { ADMIN_USAGE, type AdminOperation, parseAdminCommand } from '../admin-command-text.ts';
import { isWorkspaceAdmin } from '../slack-admins.ts';
import { type SlackDeps, slackMember, slackScope } from '../slack-deps.ts';
import { SLASH_COMMANDS } from '../slash-commands.ts';
import { SLACK_MARKUP, slackRefusalText } from '../tell-member.ts';

/**
 * `/imagine-admin`: the workspace's quota policy, NSFW policy and channel marks, banned words,
 * suspensions and grants. Only workspace admins and owners (asked of Slack with `users.info`) or
 * members listed in SLACK_ADMINS; everyone else is refused before anything is read. The quota
 * store checks `isAdmin` and the scope again where the change is made.
 */
const NOT_ADMIN: Refusal = {
  reason: 'not-admin',
  scopeNoun: 'workspace',
  permission: 'its admins and owners, or members listed in SLACK_ADMINS',
  task: { command: SLASH_COMMANDS.admin },
};

export function registerAdminCommand(app: App, deps: SlackDeps): void {
  app.command(SLASH_COMMANDS.admin, async ({ command, ack, respond }) => {
    await ack();
    const say = (text: string) => respond({ response_type: 'ephemeral', text });
    if (!command.team_id || !command.user_id) {
      await say('This /imagine-admin request is malformed (no team or user). Nothing was changed.');
      return;
    }
    const teamId = command.team_id;
    const allowed = await isWorkspaceAdmin(deps.client, teamId, command.user_id, deps.config.SLACK_ADMINS);
    if (!allowed) {
      await say(refusalText(NOT_ADMIN, SLACK_MARKUP));
      return;
    }
    const parsed = parseAdminCommand(command.text ?? '');
    if (!parsed.ok) {
      const why = parsed.refusals.map((refusal) => refusalText(refusal, SLACK_MARKUP)).join('\n');
      await say(`${why}\n\n${ADMIN_USAGE}`);
      return;
    }
    const admin: AdminActor = {
      member: slackMember(teamId, command.user_id, command.user_name),
      isAdmin: true,
    };
    try {
      await say(await run(deps, admin, teamId, command.channel_id, parsed.operation));
    } catch (error) {
      if (isUserError(error)) {
        await say(slackRefusalText(error));
        return;
      }
      deps.logger.error({ err: error }, '/imagine-admin failed');
      await say('That did not work because of an error on my side; nothing was changed.');
    }
  });
}

async function run(
  deps: SlackDeps,
  admin: AdminActor,
  teamId: string,
  channelId: string,
  operation: AdminOperation,
): Promise<string> {
  const scope = slackScope(teamId);
  const { services, nsfwChannels } = deps;
  const change = async (changes: QuotaChanges, done: string) => {
    const view = await handleQuotaSet(services, admin, scope, changes);
    return `${done}\n\n${await slackPolicy(deps, teamId, view)}`;
  };
  switch (operation.op) {
    case 'help':
      return ADMIN_USAGE;
    case 'show':
      return slackPolicy(deps, teamId, await handleQuotaShow(services, scope));
    case 'set-many':
      return change(operation.changes, 'Updated.');
    case 'set':
      return change(
        quotaChange(quotaSettingNamed(operation.setting)!, operation.value),
        `Set ${operation.setting} to ${operation.value}.`,
      );
    case 'nsfw':
      return change({ nsfw: operation.policy }, `NSFW policy is now ${operation.policy}.`);
    case 'nsfw-channel':
      await nsfwChannels.mark(teamId, channelId, operation.on);
      return operation.on
        ? `<#${channelId}> is marked as a channel where NSFW images may be shown (when the policy is not \`block\`).`
        : `<#${channelId}> is no longer marked for NSFW images.`;
    case 'ban':
      return change({ bannedWords: { add: operation.words } }, `Banned "${operation.words.join(' ')}".`);
    case 'unban':
      return change({ bannedWords: { remove: operation.words } }, `Unbanned "${operation.words.join(' ')}".`);
    case 'suspend':
      return change({ suspend: [operation.userId] }, `<@${operation.userId}> is suspended.`);
    case 'unsuspend':
      return change({ unsuspend: [operation.userId] }, `<@${operation.userId}> is no longer suspended.`);
    case 'grant': {
      const member = slackMember(teamId, operation.userId);
      const balance = await handleGrant(
        services,
        admin,
        member,
        operation.amount,
        operation.reason ?? `granted by ${admin.member.userId}`,
      );
      return `Granted ${credits(operation.amount)} to <@${operation.userId}>; they now have ${credits(balance.total)}.`;
    }
  }
}

/** The shared policy text, plus what only Slack has: the channels marked for NSFW images. */
async function slackPolicy(deps: SlackDeps, teamId: string, view: QuotaView): Promise<string> {
  const marked = await deps.nsfwChannels.list(teamId);
  const channels = marked.length > 0 ? marked.map((c) => `<#${c}>`).join(', ') : 'none';
  return `${describePolicy(view, slackScope(teamId))}\nchannels marked for NSFW images: ${channels}`;
}
