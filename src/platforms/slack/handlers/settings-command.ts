import type { App } from '@slack/bolt';
import { handleSettings, parseSettingsText, settingsLines } from '../../../../commands/settings.ts';
import { isWorkspaceAdmin } from '../slack-admins.ts';
import { type SlackDeps, slackMember } from '../slack-deps.ts';
import { escapeMrkdwn } from '../slack-limits.ts';
import { SLASH_COMMANDS } from '../slash-commands.ts';
import { slackRefusalText } from '../tell-member.ts';

/**
 * `/imagine-settings`: the member's /imagine defaults in this workspace (`show`, `reset`, `set
 * --ar 16:9 --n 4 --remix on`), and for workspace admins the workspace's (`workspace --n 4`,
 * `workspace reset`). Only the member sees the answer.
 */
export function registerSettingsCommand(app: App, deps: SlackDeps): void {
  app.command(SLASH_COMMANDS.settings, async ({ command, ack, respond }) => {
    await ack();
    const say = (text: string) => respond({ response_type: 'ephemeral', text });
    if (!command.team_id || !command.user_id) {
      await say('This /imagine-settings request is malformed (no team or user).');
      return;
    }
    try {
      const operation = parseSettingsText(command.text ?? '');
      const isAdmin =
        operation.op !== 'show' &&
        operation.target === 'scope' &&
        (await isWorkspaceAdmin(deps.client, command.team_id, command.user_id, deps.config.SLACK_ADMINS));
      const reply = await handleSettings(deps.services, {
        member: slackMember(command.team_id, command.user_id, command.user_name),
        isAdmin,
        operation,
      });
      if (reply.status === 'refused') {
        await say(slackRefusalText(reply.error));
        return;
      }
      await say(escapeMrkdwn(settingsLines(reply, 'workspace').join('\n')));
    } catch (error) {
      deps.logger.error({ err: error }, '/imagine-settings failed');
      await say('Your settings could not be read just now; nothing changed. Try again in a moment.');
    }
  });
}
