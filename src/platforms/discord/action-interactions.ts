import type { ButtonInteraction, ModalSubmitInteraction } from 'discord.js';
import {
  type ActionReply,
  decodeActionId,
  describeAction,
  finishedResult,
  handleAction,
  isActionId,
  remixPrompt,
} from '../../../commands/actions.ts';
import type { CommandReply } from '../../../commands/admit-and-reply.ts';
import { answerConfirmation } from '../../../commands/batch-answer.ts';
import { answerCommand } from '../../../commands/command-answer.ts';
import { finishStatus, type StatusSurface } from '../../../commands/status-lifecycle.ts';
import { isUserError, UserError } from '../../errors/user-error.ts';
import type { Origin } from '../../queue/job-data.ts';
import { offerRegionLinkOnDiscord } from '../../region-editor/discord-region-link.ts';
import { INTERNAL_ERROR_ANSWER } from './answers.ts';
import { discordAnswer, tellPrivatelyOnDiscord } from './command-surface.ts';
import { INPAINT_PROMPT_FIELD, INPAINT_REGION_FIELD, inpaintModal, remixModal } from './components.ts';
import { discordConfirmation } from './confirmation-surface.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { answerInteraction, InteractionAnswer } from './first-response.ts';
import { channelIsNsfw, isServerAdmin, memberOf, originOf } from './interaction-context.ts';
import { statusMessage } from './status-message.ts';

/**
 * Buttons (U1-U4, V1-V4, Reroll, Vary, Inpaint, Zoom Out, Upscale, Cancel) and the Inpaint modal.
 * A button's id carries the action and the job, and the job lives in Redis, so buttons work after
 * a restart. Every action goes through admission and is charged to whoever pressed it.
 */

/** Runs an action and answers like `/imagine`: the new job's status in this channel, or why not. */
async function runAction(
  deps: DiscordDeps,
  interaction: ButtonInteraction | ModalSubmitInteraction,
  extra?: { prompt: string; region: string },
): Promise<void> {
  const member = memberOf(interaction);
  const work = async (answer: InteractionAnswer): Promise<void> => {
    const answering = discordAnswer(deps, interaction, answer);
    let asked: { origin: Origin; reply: CommandReply };
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
      if (reply.status === 'cancelled' || reply.status === 'batch' || reply.status === 'batch-dropped') {
        throw new Error(`a ${reply.status} reached runAction`);
      }
      asked = { origin, reply };
    } catch (error) {
      if (isUserError(error)) return answering.surface.tellPrivately({ kind: 'refusal', error });
      deps.logger.error({ err: error, interaction: interaction.id }, 'button action failed');
      await answer.first(INTERNAL_ERROR_ANSWER);
      return;
    }
    await answerCommand(answering, asked.reply, { member, origin: asked.origin });
  };
  await answerInteraction(interaction, work, {
    budgetMs: deps.answerBudgetMs,
    webhooks: deps.webhooks,
    inFlight: deps.inFlight,
  });
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
  if (reply.status === 'refused')
    return tellPrivatelyOnDiscord(deps, interaction, { kind: 'refusal', error: reply.error });
  if (reply.status !== 'cancelled') {
    await new InteractionAnswer(interaction, deps.webhooks).first(INTERNAL_ERROR_ANSWER);
    return;
  }
  const job = await deps.services.jobs.get(jobId);
  if (!job) {
    await deps.replies.markFinal(jobId);
    await interaction.update({ components: [] });
    return;
  }
  await finishStatus(deps.replies, pressedStatus(interaction), interaction, jobId, job.data, {
    kind: 'cancelled',
    byUserId: member.userId,
    refunded: reply.outcome.refunded,
  });
}

/** The status message the Cancel button is on, answered through the press itself. */
function pressedStatus(interaction: ButtonInteraction): StatusSurface<ButtonInteraction> {
  return {
    platform: 'discord',
    locate: async () => interaction,
    show: async (pressed, jobId, job, state) => {
      await pressed.update({
        ...statusMessage(jobId, job, state),
        allowedMentions: { users: [] },
      });
    },
  };
}

export async function onButton(deps: DiscordDeps, interaction: ButtonInteraction): Promise<void> {
  if (!isActionId(interaction.customId)) {
    return tellPrivatelyOnDiscord(deps, interaction, {
      kind: 'refusal',
      error: UserError.refused({ reason: 'broken-button', problem: 'unknown' }),
    });
  }
  let action: ReturnType<typeof decodeActionId>;
  try {
    action = decodeActionId(interaction.customId);
  } catch (error) {
    if (isUserError(error)) return tellPrivatelyOnDiscord(deps, interaction, { kind: 'refusal', error });
    throw error;
  }
  if (action.action === 'cancel') return cancel(deps, interaction, action.jobId);
  if (action.action === 'batch') return answerBatch(deps, interaction);
  if (action.action === 'vary-region') return offerRegionLinkOnDiscord(deps, interaction, action);
  // Remix: the modal must be the first answer, so whether to open it is settled first (fast reads).
  const remix = await remixPrompt(deps.services, {
    actionId: interaction.customId,
    member: memberOf(interaction),
  });
  if (remix !== undefined) {
    await interaction.showModal(remixModal(interaction.customId, describeAction(action), remix));
    return;
  }
  if (action.action === 'inpaint') {
    // A modal must be the first answer; look the job up first so a dead button says so at once.
    const job = await deps.services.jobs.get(action.jobId);
    const mine =
      job && job.data.member.scope.kind === 'discord' && job.data.member.scope.id === interaction.guildId;
    try {
      if (!mine) throw UserError.refused({ reason: 'job-gone' });
      finishedResult(job);
    } catch (error) {
      if (isUserError(error)) return tellPrivatelyOnDiscord(deps, interaction, { kind: 'refusal', error });
      throw error;
    }
    await interaction.showModal(inpaintModal(interaction.customId, action.index + 1));
    return;
  }
  await runAction(deps, interaction);
}

/** A batch's confirmation (permutations, --repeat), answered on its private message. */
async function answerBatch(deps: DiscordDeps, interaction: ButtonInteraction): Promise<void> {
  const member = memberOf(interaction);
  const reply = await handleAction(deps.services, {
    actionId: interaction.customId,
    requestId: interaction.id,
    member,
    origin: originOf(interaction, false),
  });
  const surface = discordConfirmation(deps, interaction);
  await answerConfirmation({ surface, services: deps.services, logger: deps.logger }, reply, {
    requestId: interaction.id,
    member,
  });
}

export async function onModalSubmit(deps: DiscordDeps, interaction: ModalSubmitInteraction): Promise<void> {
  if (!isActionId(interaction.customId)) {
    return tellPrivatelyOnDiscord(deps, interaction, {
      kind: 'refusal',
      error: UserError.refused({ reason: 'broken-button', problem: 'unknown-form' }),
    });
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
