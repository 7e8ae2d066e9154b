import type { App, SlashCommand } from '@slack/bolt';
import { answerCommand } from '../../../../commands/command-answer.ts';
import { handleImagine } from '../../../../commands/imagine.ts';
import { isUserError } from '../../../errors/user-error.ts';
import type { SlackOrigin } from '../../../queue/job-data.ts';
import { slackAnswer } from '../command-surface.ts';
import { type SlackDeps, slackMember } from '../slack-deps.ts';
import { SLASH_COMMANDS } from '../slash-commands.ts';
import { type EphemeralTarget, tellMember } from '../tell-member.ts';

/**
 * `/imagine <prompt and flags>`: acknowledged at once (Slack's 3-second deadline), then parsed,
 * validated and admitted; a refusal is told to the member alone and leaves no job and no charge;
 * an accepted job gets its parent message (cost, position, ETA, Cancel), under which the result
 * will be threaded.
 */
export function registerImagineCommand(app: App, deps: SlackDeps): void {
  app.command(SLASH_COMMANDS.imagine, async ({ command, ack, respond }) => {
    await ack();
    const missing = missingFields(command);
    if (missing.length > 0) {
      await respond({
        response_type: 'ephemeral',
        text: `This /imagine request is malformed: it has no ${missing.join(', ')}. Nothing was queued.`,
      });
      return;
    }
    const tell: EphemeralTarget = {
      client: deps.client,
      channelId: command.channel_id,
      userId: command.user_id,
      respond,
    };
    const answer = slackAnswer(deps, tell);
    const member = slackMember(command.team_id, command.user_id, command.user_name);
    const origin: SlackOrigin = {
      platform: 'slack',
      teamId: command.team_id,
      channelId: command.channel_id,
      userId: command.user_id,
    };
    if (command.response_url) origin.responseUrl = command.response_url;
    try {
      const outcome = await handleImagine(deps.services, {
        requestId: `slack:${command.trigger_id}`,
        member,
        origin,
        text: command.text ?? '',
      });
      await answerCommand(answer, outcome, { member, origin });
    } catch (error) {
      if (isUserError(error)) {
        await answer.surface.tellPrivately({ kind: 'refusal', error });
        return;
      }
      deps.logger.error({ err: error }, '/imagine failed');
      await tellMember(
        tell,
        'Something went wrong on my side; nothing was charged. Try again in a moment.',
        deps.logger,
      );
    }
  });
}

function missingFields(command: SlashCommand): string[] {
  const required = ['team_id', 'user_id', 'channel_id', 'trigger_id'] as const;
  return required.filter((field) => typeof command[field] !== 'string' || command[field] === '');
}
