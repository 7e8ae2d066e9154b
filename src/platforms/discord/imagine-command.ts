import type { ChatInputCommandInteraction } from 'discord.js';
import { answerCommand } from '../../../commands/command-answer.ts';
import { handleImagine, type ImagineReply } from '../../../commands/imagine.ts';
import { IMAGINE_OPTIONS } from '../../../commands/imagine-options.ts';
import { isUserError } from '../../errors/user-error.ts';
import type { Origin } from '../../queue/job-data.ts';
import type { DiscordImagineOptions } from '../../request/discord-options.ts';
import { INTERNAL_ERROR_ANSWER } from './answers.ts';
import { storeAttachment } from './attachment-input.ts';
import { discordAnswer } from './command-surface.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { answerInteraction, type InteractionAnswer } from './first-response.ts';
import { channelIsNsfw, memberOf, originOf } from './interaction-context.ts';
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
  const work = async (answer: InteractionAnswer): Promise<void> => {
    const answering = discordAnswer(deps, interaction, answer);
    let initImage: string | undefined;
    let asked: { origin: Origin; reply: ImagineReply };
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
      asked = { origin, reply };
    } catch (error) {
      if (initImage) await services.artifacts.delete(initImage).catch(() => {});
      if (isUserError(error)) return answering.surface.tellPrivately({ kind: 'refusal', error });
      deps.logger.error({ err: error, interaction: interaction.id }, '/imagine failed');
      await answer.first(INTERNAL_ERROR_ANSWER);
      return;
    }
    await answerCommand(answering, asked.reply, { member, origin: asked.origin });
  };
  // Downloading an attachment can take a while: defer at once rather than race the deadline.
  await answerInteraction(interaction, work, {
    budgetMs: attachment ? 0 : deps.answerBudgetMs,
    webhooks: deps.webhooks,
    inFlight: deps.inFlight,
  });
}
