import { type ChatInputCommandInteraction, MessageFlags, Routes } from 'discord.js';
import { handleImagine } from '../../../commands/imagine.ts';
import { IMAGINE_OPTIONS } from '../../../commands/imagine-options.ts';
import { isUserError } from '../../errors/user-error.ts';
import type { DiscordImagineOptions } from '../../request/discord-options.ts';
import { commandAnswer, INTERNAL_ERROR_ANSWER, refusalAnswer } from './answers.ts';
import { storeAttachment } from './attachment-input.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { type Answer, answerInteraction } from './first-response.ts';
import { channelIsNsfw, memberOf, originOf } from './interaction-context.ts';
import { MESSAGE_MAX, truncate } from './status-text.ts';
import { typedOptions } from './typed-options.ts';

/** The typed options but the image, which is downloaded and stored apart. */
const TEXT_OPTIONS = IMAGINE_OPTIONS.filter((o) => o.kind !== 'attachment');

function imagineOptions(interaction: ChatInputCommandInteraction): DiscordImagineOptions {
  return typedOptions(interaction, TEXT_OPTIONS) as DiscordImagineOptions;
}

/**
 * `/imagine`: reads the typed options (flags in the prompt work too), stores an attached image,
 * and admits the request; the member sees the status (cost, place in line, ETA, Cancel) or, for a
 * refusal, a private message saying why. A refused request leaves nothing behind: no job, no
 * charge, no stored image.
 */
export async function onImagine(deps: DiscordDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  const { services } = deps;
  const attachment = interaction.options.getAttachment('image');
  const member = memberOf(interaction);
  const work = async (): Promise<{ answer: Answer; jobId?: string; warnings?: string[] }> => {
    let initImage: string | undefined;
    try {
      const origin = originOf(interaction, await channelIsNsfw(interaction));
      if (attachment) {
        initImage = await storeAttachment(attachment, {
          apiBase: deps.apiBase,
          artifacts: services.artifacts,
        });
      }
      const reply = await handleImagine(services, {
        requestId: interaction.id,
        member,
        origin,
        options: imagineOptions(interaction),
        ...(initImage ? { initImage } : {}),
      });
      if (reply.status === 'refused' && initImage) await services.artifacts.delete(initImage);
      return commandAnswer(reply, member.userId);
    } catch (error) {
      if (initImage) await services.artifacts.delete(initImage).catch(() => {});
      if (isUserError(error)) return { answer: refusalAnswer(error) };
      deps.logger.error({ err: error, interaction: interaction.id }, '/imagine failed');
      return { answer: INTERNAL_ERROR_ANSWER };
    }
  };
  // Downloading an attachment can take a while: defer at once rather than race the deadline.
  const answered = await answerInteraction(interaction, work, {
    budgetMs: attachment ? 0 : deps.answerBudgetMs,
    webhooks: deps.webhooks,
    inFlight: deps.inFlight,
  });
  const { jobId, warnings = [] } = answered.value;
  if (jobId && answered.messageId) {
    await deps.replies.set(jobId, { channelId: interaction.channelId, messageId: answered.messageId });
  }
  // A private follow-up rather than a line in the status: progress edits rewrite the status.
  for (const warning of warnings) {
    await deps.webhooks
      .post(Routes.webhook(interaction.applicationId, interaction.token), {
        auth: false,
        body: { content: truncate(`💡 ${warning}`, MESSAGE_MAX), flags: MessageFlags.Ephemeral },
      })
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'could not send the prompt hint'));
  }
}
