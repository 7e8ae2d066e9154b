import { type ButtonInteraction, ButtonStyle, ComponentType, MessageFlags } from 'discord.js';
import { isUserError } from '../errors/user-error.ts';
import { INTERNAL_ERROR_ANSWER } from '../platforms/discord/answers.ts';
import { tellPrivatelyOnDiscord } from '../platforms/discord/command-surface.ts';
import type { DiscordDeps } from '../platforms/discord/discord-deps.ts';
import { channelIsNsfw, memberOf, originOf } from '../platforms/discord/interaction-context.ts';
import { regionEditorFor } from './region-editor-for.ts';
import { regionLinkText } from './region-link-text.ts';

/**
 * Vary (Region) on Discord: the press is answered privately (ephemeral) with the editor's link, as
 * text and as a link button. The result of the submission is posted in this thread or channel.
 */
export async function offerRegionLinkOnDiscord(
  deps: DiscordDeps,
  interaction: ButtonInteraction,
  target: { jobId: string; index: number },
): Promise<void> {
  try {
    const { url } = await regionEditorFor(deps.services).offerLink({
      ...target,
      member: memberOf(interaction),
      origin: originOf(interaction, await channelIsNsfw(interaction)),
    });
    await interaction.reply({
      content: regionLinkText(target.index, `<${url}>`),
      components: [
        {
          type: ComponentType.ActionRow,
          components: [
            { type: ComponentType.Button, style: ButtonStyle.Link, label: 'Open the editor', url },
          ],
        },
      ],
      flags: MessageFlags.Ephemeral,
    });
  } catch (error) {
    if (isUserError(error)) return tellPrivatelyOnDiscord(deps, interaction, { kind: 'refusal', error });
    deps.logger.error({ err: error, interaction: interaction.id }, 'Vary (Region) failed');
    await interaction.reply({ content: INTERNAL_ERROR_ANSWER.content, flags: MessageFlags.Ephemeral });
  }
}
