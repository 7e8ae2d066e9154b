import type { APIMessage, ButtonInteraction, ModalSubmitInteraction } from 'discord.js';
import { Routes } from 'discord.js';
import {
  type ActionReply,
  decodeActionId,
  describeAction,
  handleAction,
  isActionId,
  remixPrompt,
} from '../../../commands/actions.ts';
import type { CommandReply } from '../../../commands/admit-and-reply.ts';
import { admitBatchJob, batchSummary, type PendingBatch } from '../../../commands/batch.ts';
import { answerCommand, postAccepted } from '../../../commands/command-answer.ts';
import { finishStatus, type StatusSurface } from '../../../commands/status-lifecycle.ts';
import { isUserError, UserError } from '../../errors/user-error.ts';
import type { Origin } from '../../queue/job-data.ts';
import { offerRegionLinkOnDiscord } from '../../region-editor/discord-region-link.ts';
import { INTERNAL_ERROR_ANSWER, refusalAnswer } from './answers.ts';
import { discordAnswer, statusOverPlaceholder, tellPrivatelyOnDiscord } from './command-surface.ts';
import { INPAINT_PROMPT_FIELD, INPAINT_REGION_FIELD, inpaintModal, remixModal } from './components.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { answerInteraction, InteractionAnswer } from './first-response.ts';
import { channelIsNsfw, isServerAdmin, memberOf, originOf } from './interaction-context.ts';
import { statusMessage } from './status-message.ts';
import { MESSAGE_MAX, truncate } from './status-text.ts';

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
      error: new UserError('invalid-request', 'This button is not one easel knows.'),
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
    if (!mine || job.state !== 'completed') {
      return tellPrivatelyOnDiscord(deps, interaction, {
        kind: 'refusal',
        error: new UserError(
          'not-found',
          'That job is gone or has no images (results are kept for a limited time); run /imagine again.',
        ),
      });
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
  // Answered already (the confirmation became "Queuing…"): what it tells privately comes as follow-ups.
  const pressed = new InteractionAnswer(interaction, deps.webhooks);
  const replies: CommandReply[] = [];
  for (const [index, request] of batch.requests.entries()) {
    const placeholder = (await deps.webhooks.post(followUps, {
      auth: false,
      body: { content: `⏳ ${truncate(request.prompt, 200)}`, allowed_mentions: { parse: [] } },
      query: new URLSearchParams({ wait: 'true' }),
    })) as APIMessage;
    const origin = { ...base, statusMessageId: placeholder.id };
    const reply = await admitBatchJob(deps.services, {
      batch,
      index,
      requestId: interaction.id,
      member,
      origin,
    });
    replies.push(reply);
    if (reply.status !== 'accepted') {
      await deps.webhooks.delete(message(placeholder.id), { auth: false }).catch(() => {});
      break;
    }
    const overPlaceholder = statusOverPlaceholder(deps, interaction, placeholder);
    await postAccepted(discordAnswer(deps, interaction, pressed, overPlaceholder), reply, { member, origin });
  }
  return replies;
}

export async function onModalSubmit(deps: DiscordDeps, interaction: ModalSubmitInteraction): Promise<void> {
  if (!isActionId(interaction.customId)) {
    return tellPrivatelyOnDiscord(deps, interaction, {
      kind: 'refusal',
      error: new UserError('invalid-request', 'This form is not one easel knows.'),
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
