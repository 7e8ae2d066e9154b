import type { APIMessage, RepliableInteraction } from 'discord.js';
import { Routes } from 'discord.js';
import type { AnswerDeps, CommandSurface, PrivateNotice } from '../../../commands/command-answer.ts';
import { refundSentence, type StatusPoster } from '../../../commands/status-lifecycle.ts';
import { confirmationAnswer, refusalAnswer } from './answers.ts';
import type { DiscordDeps } from './discord-deps.ts';
import { InteractionAnswer, type PrivateAnswer } from './first-response.ts';
import type { ReplyRecord } from './reply-store.ts';
import { statusMessage } from './status-message.ts';
import { MESSAGE_MAX, truncate } from './status-text.ts';

/**
 * How a Discord interaction answers its member (commands/command-answer.ts): a job's status
 * message is the interaction's answer (within its 3 seconds, first-response.ts) and is recorded
 * for delivery and progress; private notices are the ephemeral first answer, or ephemeral
 * follow-ups once the interaction has one.
 */
export function discordAnswer(
  deps: DiscordDeps,
  interaction: RepliableInteraction,
  answer: InteractionAnswer,
  poster: StatusPoster<ReplyRecord> = statusAsAnswer(deps, interaction, answer),
): AnswerDeps<ReplyRecord> {
  const surface: CommandSurface<ReplyRecord> = {
    post: (...args) => poster.post(...args),
    async tellPrivately(notice) {
      const told = noticeAnswer(notice);
      try {
        if (!answer.answered) await answer.first(told);
        else await answer.followUp(told);
      } catch (error) {
        deps.logger.warn(
          { err: error, interaction: interaction.id, notice: notice.kind },
          'could not tell the member',
        );
      }
    },
  };
  return { surface, jobs: deps.services.jobs, logger: deps.logger };
}

/** Tells the member who sent the interaction alone, outside a command's answer (a dead button, a failed Cancel). */
export function tellPrivatelyOnDiscord(
  deps: DiscordDeps,
  interaction: RepliableInteraction,
  notice: PrivateNotice,
): Promise<void> {
  const answer = new InteractionAnswer(interaction, deps.webhooks);
  return discordAnswer(deps, interaction, answer).surface.tellPrivately(notice);
}

/** The status message as the interaction's first answer. */
function statusAsAnswer(
  deps: DiscordDeps,
  interaction: RepliableInteraction,
  answer: InteractionAnswer,
): StatusPoster<ReplyRecord> {
  return {
    async post(jobId, job, state, balance) {
      const messageId = await answer.first({ kind: 'public', ...statusMessage(jobId, job, state, balance) });
      if (messageId === undefined || interaction.channelId === null) {
        throw new Error('Discord answered without the status message');
      }
      const record = { channelId: interaction.channelId, messageId };
      await deps.replies.set(jobId, record);
      return record;
    },
  };
}

/**
 * A batch job's status over the placeholder posted for it before admission (so the job knew where
 * its status would be). The placeholder is the status message whatever its text: an edit that
 * fails is logged, not a reason to cancel the job.
 */
export function statusOverPlaceholder(
  deps: DiscordDeps,
  interaction: RepliableInteraction,
  placeholder: APIMessage,
): StatusPoster<ReplyRecord> {
  return {
    async post(jobId, job, state, balance) {
      const record = { channelId: placeholder.channel_id, messageId: placeholder.id };
      await deps.replies.set(jobId, record);
      // A quick job may be delivered already: its final status stands.
      if (await deps.replies.isFinal(jobId)) return record;
      const message = statusMessage(jobId, job, state, balance);
      await deps.webhooks
        .patch(Routes.webhookMessage(interaction.applicationId, interaction.token, placeholder.id), {
          auth: false,
          body: { ...message, allowed_mentions: { parse: [] } },
        })
        .catch((err: unknown) => deps.logger.warn({ err, jobId }, 'could not show a batch job’s status'));
      return record;
    },
  };
}

function noticeAnswer(notice: PrivateNotice): PrivateAnswer {
  switch (notice.kind) {
    case 'refusal':
      return refusalAnswer(notice.error);
    case 'hint':
      return { kind: 'ephemeral', content: truncate(`💡 ${notice.text}`, MESSAGE_MAX) };
    case 'confirm':
      return confirmationAnswer(notice);
    case 'unposted':
      return {
        kind: 'ephemeral',
        content: `⚠️ Discord would not take the status message here. The job was cancelled. ${refundSentence(notice.refunded)}`,
      };
    case 'cancelled':
      return { kind: 'ephemeral', content: `Cancelled. ${refundSentence(notice.refunded)}` };
  }
}
