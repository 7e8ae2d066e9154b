import type { ButtonInteraction, ModalSubmitInteraction } from 'discord.js';
import { MessageFlags } from 'discord.js';
import { type ActionReply, decodeActionId, handleAction, isActionId } from '../../../commands/actions.ts';
import { isUserError, UserError } from '../../errors/user-error.ts';
import { offerRegionLinkOnDiscord } from '../../region-editor/discord-region-link.ts';
import { commandAnswer, INTERNAL_ERROR_ANSWER, refusalAnswer } from './answers.ts';
import { INPAINT_PROMPT_FIELD, INPAINT_REGION_FIELD, inpaintModal } from './components.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { type Answer, answerInteraction } from './first-response.ts';
import { channelIsNsfw, isServerAdmin, memberOf, originOf } from './interaction-context.ts';
import { statusText } from './status-text.ts';

/**
 * Buttons (U1-U4, V1-V4, Reroll, Vary, Inpaint, Zoom Out, Upscale, Cancel) and the Inpaint modal.
 * A button's id carries the action and the job, and the job lives in Redis, so buttons work after
 * a restart. Every action goes through admission and is charged to whoever pressed it.
 */

async function replyPrivately(
  interaction: ButtonInteraction | ModalSubmitInteraction,
  answer: Answer,
): Promise<void> {
  await interaction.reply({ content: answer.content, flags: MessageFlags.Ephemeral });
}

/** Runs an action and answers like `/imagine`: the new job's status in this channel, or why not. */
async function runAction(
  deps: DiscordDeps,
  interaction: ButtonInteraction | ModalSubmitInteraction,
  extra?: { prompt: string; region: string },
): Promise<void> {
  const member = memberOf(interaction);
  const work = async (): Promise<{ answer: Answer; jobId?: string }> => {
    try {
      const origin = originOf(interaction, await channelIsNsfw(interaction));
      const reply: ActionReply = await handleAction(deps.services, {
        actionId: interaction.customId,
        requestId: interaction.id,
        member,
        origin,
        isAdmin: isServerAdmin(interaction),
        ...(extra ? { extra } : {}),
      });
      if (reply.status === 'cancelled') throw new Error('a cancel reached runAction');
      return commandAnswer(reply, member.userId);
    } catch (error) {
      if (isUserError(error)) return { answer: refusalAnswer(error) };
      deps.logger.error({ err: error, interaction: interaction.id }, 'button action failed');
      return { answer: INTERNAL_ERROR_ANSWER };
    }
  };
  const answered = await answerInteraction(interaction, work, {
    budgetMs: deps.answerBudgetMs,
    webhooks: deps.webhooks,
    inFlight: deps.inFlight,
  });
  const { jobId } = answered.value;
  if (jobId && answered.messageId && interaction.channelId) {
    await deps.replies.set(jobId, { channelId: interaction.channelId, messageId: answered.messageId });
  }
}

/** Cancel: the owner (or a server admin) stops a queued or rendering job and gets the credits back. */
async function cancel(deps: DiscordDeps, interaction: ButtonInteraction, jobId: string): Promise<void> {
  const member = memberOf(interaction);
  const reply = await handleAction(deps.services, {
    actionId: interaction.customId,
    requestId: interaction.id,
    member,
    origin: originOf(interaction, false),
    isAdmin: isServerAdmin(interaction),
  });
  if (reply.status === 'refused') return replyPrivately(interaction, refusalAnswer(reply.error));
  if (reply.status !== 'cancelled') return replyPrivately(interaction, INTERNAL_ERROR_ANSWER);
  await deps.replies.markFinal(jobId);
  const job = await deps.services.jobs.get(jobId);
  if (!job) {
    await interaction.update({ components: [] });
    return;
  }
  await interaction.update({
    content: statusText({
      request: job.data.request,
      userId: job.data.member.userId,
      cost: job.data.cost,
      state: { kind: 'cancelled', byUserId: member.userId, refunded: reply.outcome.refunded },
    }),
    components: [],
    allowedMentions: { users: [] },
  });
}

export async function onButton(deps: DiscordDeps, interaction: ButtonInteraction): Promise<void> {
  if (!isActionId(interaction.customId)) {
    return replyPrivately(
      interaction,
      refusalAnswer(new UserError('invalid-request', 'This button is not one easel knows.')),
    );
  }
  let action: ReturnType<typeof decodeActionId>;
  try {
    action = decodeActionId(interaction.customId);
  } catch (error) {
    if (isUserError(error)) return replyPrivately(interaction, refusalAnswer(error));
    throw error;
  }
  if (action.action === 'cancel') return cancel(deps, interaction, action.jobId);
  if (action.action === 'vary-region') return offerRegionLinkOnDiscord(deps, interaction, action);
  if (action.action === 'inpaint') {
    // A modal must be the first answer; look the job up first so a dead button says so at once.
    const job = await deps.services.jobs.get(action.jobId);
    const mine =
      job && job.data.member.scope.kind === 'discord' && job.data.member.scope.id === interaction.guildId;
    if (!mine || job.state !== 'completed') {
      return replyPrivately(
        interaction,
        refusalAnswer(
          new UserError(
            'not-found',
            'That job is gone or has no images (results are kept for a limited time); run /imagine again.',
          ),
        ),
      );
    }
    await interaction.showModal(inpaintModal(interaction.customId, action.index + 1));
    return;
  }
  await runAction(deps, interaction);
}

export async function onModalSubmit(deps: DiscordDeps, interaction: ModalSubmitInteraction): Promise<void> {
  if (!isActionId(interaction.customId)) {
    return replyPrivately(
      interaction,
      refusalAnswer(new UserError('invalid-request', 'This form is not one easel knows.')),
    );
  }
  const field = (id: string) => {
    try {
      return interaction.fields.getTextInputValue(id);
    } catch {
      return '';
    }
  };
  await runAction(deps, interaction, {
    prompt: field(INPAINT_PROMPT_FIELD),
    region: field(INPAINT_REGION_FIELD),
  });
}
