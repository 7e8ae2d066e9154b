import type { APIMessage, ButtonInteraction, ModalSubmitInteraction } from 'discord.js';
import { MessageFlags, Routes } from 'discord.js';
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
import { admitBatchJob, batchSummary, type PendingBatch } from '../../../commands/batch.ts';
import { finishStatus, type StatusSurface } from '../../../commands/status-lifecycle.ts';
import { isUserError, UserError } from '../../errors/user-error.ts';
import { offerRegionLinkOnDiscord } from '../../region-editor/discord-region-link.ts';
import { commandAnswer, INTERNAL_ERROR_ANSWER, refusalAnswer } from './answers.ts';
import { INPAINT_PROMPT_FIELD, INPAINT_REGION_FIELD, inpaintModal, remixModal } from './components.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { type Answer, answerInteraction } from './first-response.ts';
import { channelIsNsfw, isServerAdmin, memberOf, originOf } from './interaction-context.ts';
import { statusMessage } from './status-message.ts';
import { MESSAGE_MAX, truncate } from './status-text.ts';

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
      if (reply.status === 'cancelled' || reply.status === 'batch' || reply.status === 'batch-dropped') {
        throw new Error(`a ${reply.status} reached runAction`);
      }
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
    return replyPrivately(
      interaction,
      refusalAnswer(UserError.refused({ reason: 'broken-button', problem: 'unknown' })),
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
      if (isUserError(error)) return replyPrivately(interaction, refusalAnswer(error));
      throw error;
    }
    await interaction.showModal(inpaintModal(interaction.customId, action.index + 1));
    return;
  }
  await runAction(deps, interaction);
}

/**
 * A batch's confirmation (permutations, --repeat), answered on its private message: Cancel drops
 * it; Queue them admits each job in turn, each with a status message of its own (a follow-up of
 * this press, posted first so the job knows where its status is), and the confirmation becomes a
 * summary. A job admission refuses (credits, pending cap) leaves no message; the rest stop there.
 */
async function answerBatch(deps: DiscordDeps, interaction: ButtonInteraction): Promise<void> {
  const member = memberOf(interaction);
  const reply = await handleAction(deps.services, {
    actionId: interaction.customId,
    requestId: interaction.id,
    member,
    origin: originOf(interaction, false),
  });
  if (reply.status === 'refused') {
    await interaction.update({ content: refusalAnswer(reply.error).content, components: [] });
    return;
  }
  if (reply.status === 'batch-dropped') {
    await interaction.update({ content: 'Cancelled; nothing was queued or charged.', components: [] });
    return;
  }
  if (reply.status !== 'batch') throw new Error(`a ${reply.status} answered a batch`);
  const jobs = reply.batch.requests.length;
  await interaction.update({ content: `Queuing ${jobs} jobs…`, components: [] });
  let summary: string;
  try {
    summary = batchSummary(await runBatch(deps, interaction, reply.batch), jobs);
  } catch (error) {
    deps.logger.error({ err: error, interaction: interaction.id }, 'batch failed');
    summary =
      '⚠️ Something went wrong on easel’s side while queuing; the jobs with a status message above were queued, the rest cost nothing.';
  }
  await deps.webhooks
    .patch(Routes.webhookMessage(interaction.applicationId, interaction.token, '@original'), {
      auth: false,
      body: { content: truncate(summary, MESSAGE_MAX), components: [] },
    })
    .catch((err: unknown) => deps.logger.warn({ err }, 'could not update the batch confirmation'));
}

async function runBatch(
  deps: DiscordDeps,
  interaction: ButtonInteraction,
  batch: PendingBatch,
): Promise<CommandReply[]> {
  const member = memberOf(interaction);
  const base = originOf(interaction, await channelIsNsfw(interaction));
  const followUps = Routes.webhook(interaction.applicationId, interaction.token);
  const message = (id: string) => Routes.webhookMessage(interaction.applicationId, interaction.token, id);
  const replies: CommandReply[] = [];
  for (const [index, request] of batch.requests.entries()) {
    const placeholder = (await deps.webhooks.post(followUps, {
      auth: false,
      body: { content: `⏳ ${truncate(request.prompt, 200)}`, allowed_mentions: { parse: [] } },
      query: new URLSearchParams({ wait: 'true' }),
    })) as APIMessage;
    const reply = await admitBatchJob(deps.services, {
      batch,
      index,
      requestId: interaction.id,
      member,
      origin: { ...base, statusMessageId: placeholder.id },
    });
    replies.push(reply);
    if (reply.status !== 'accepted') {
      await deps.webhooks.delete(message(placeholder.id), { auth: false }).catch(() => {});
      break;
    }
    await deps.replies.set(reply.jobId, { channelId: placeholder.channel_id, messageId: placeholder.id });
    // A quick job may be delivered already: its final status stands.
    if (await deps.replies.isFinal(reply.jobId)) continue;
    const { answer } = commandAnswer(reply, member.userId);
    await deps.webhooks
      .patch(message(placeholder.id), {
        auth: false,
        body: {
          content: answer.content,
          components: answer.components ?? [],
          allowed_mentions: { parse: [] },
        },
      })
      .catch((err: unknown) => deps.logger.warn({ err }, 'could not show a batch job’s status'));
  }
  return replies;
}

export async function onModalSubmit(deps: DiscordDeps, interaction: ModalSubmitInteraction): Promise<void> {
  if (!isActionId(interaction.customId)) {
    return replyPrivately(
      interaction,
      refusalAnswer(UserError.refused({ reason: 'broken-button', problem: 'unknown-form' })),
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
