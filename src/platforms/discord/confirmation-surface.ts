import type { APIMessage, ButtonInteraction } from 'discord.js';
import { Routes } from 'discord.js';
import type { ConfirmationNotice, ConfirmationSurface } from '../../../commands/batch-answer.ts';
import { refusalAnswer } from './answers.ts';
import { discordAnswer, statusOverPlaceholder } from './command-surface.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { InteractionAnswer } from './first-response.ts';
import { channelIsNsfw, originOf } from './interaction-context.ts';
import type { ReplyRecord } from './reply-store.ts';
import { MESSAGE_MAX, truncate } from './status-text.ts';

/**
 * A batch's confirmation answered on Discord (commands/batch-answer.ts): the press updates the
 * private confirmation at once, later changes edit it through the interaction webhook; each job's
 * status is a follow-up of the press, posted as a placeholder before the job is admitted so the
 * job knows where its status is.
 */
export function discordConfirmation(
  deps: DiscordDeps,
  interaction: ButtonInteraction,
): ConfirmationSurface<ReplyRecord> {
  const webhookMessage = (id: string) =>
    Routes.webhookMessage(interaction.applicationId, interaction.token, id);
  // Read once, after the press is answered: the channel's NSFW flag may need a lookup.
  let base: Promise<ReturnType<typeof originOf>> | undefined;
  const baseOrigin = () => {
    base ??= channelIsNsfw(interaction).then((nsfw) => originOf(interaction, nsfw));
    return base;
  };
  return {
    async replaceConfirmation(notice) {
      const content = truncate(confirmationText(notice), MESSAGE_MAX);
      if (!interaction.replied) {
        await interaction.update({ content, components: [] });
        return;
      }
      await deps.webhooks
        .patch(webhookMessage('@original'), { auth: false, body: { content, components: [] } })
        .catch((err: unknown) => deps.logger.warn({ err }, 'could not update the batch confirmation'));
    },
    async jobSlot(request) {
      const placeholder = (await deps.webhooks.post(
        Routes.webhook(interaction.applicationId, interaction.token),
        {
          auth: false,
          body: { content: `⏳ ${truncate(request.prompt, 200)}`, allowed_mentions: { parse: [] } },
          query: new URLSearchParams({ wait: 'true' }),
        },
      )) as APIMessage;
      // The press is answered already: what the job's member is told privately comes as follow-ups.
      const pressed = new InteractionAnswer(interaction, deps.webhooks);
      return {
        origin: { ...(await baseOrigin()), statusMessageId: placeholder.id },
        answer: discordAnswer(
          deps,
          interaction,
          pressed,
          statusOverPlaceholder(deps, interaction, placeholder),
        ),
        async discard() {
          await deps.webhooks.delete(webhookMessage(placeholder.id), { auth: false }).catch(() => {});
        },
      };
    },
  };
}

function confirmationText(notice: ConfirmationNotice): string {
  switch (notice.kind) {
    case 'refusal':
      return refusalAnswer(notice.error).content;
    case 'said':
      return notice.text;
    case 'interrupted':
      return '⚠️ Something went wrong on easel’s side while queuing; the jobs with a status message above were queued, the rest cost nothing.';
  }
}
