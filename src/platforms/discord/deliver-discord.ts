import { createHash } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import { type RawFile, type REST, Routes } from 'discord.js';
import {
  type DeliverySurface,
  deliverJob,
  type FailureView,
  type ResultDelivery,
  type ResultView,
  type Uploaded,
} from '../../../commands/delivery-lifecycle.ts';
import type { ArtifactStore } from '../../artifacts/artifact-store.ts';
import type { Deliverer } from '../../delivery/deliverer.ts';
import type { Once } from '../../delivery/once.ts';
import type { Logger } from '../../log/logger.ts';
import type { ScopeRef } from '../../members/member-ref.ts';
import type { DeliverJobData, DiscordOrigin } from '../../queue/job-data.ts';
import type { NsfwPolicy } from '../../quotas/quota-policy.ts';
import { DiscordCode, discordCode, isDeadToken, isNoAccess } from './discord-api-errors.ts';
import type { DiscordReplyStore, ReplyRecord } from './reply-store.ts';
import { type ResultPart, resultParts } from './result-message.ts';
import { discordFailureNotice } from './result-notes.ts';
import { statusMessage } from './status-message.ts';
import { truncate } from './status-text.ts';

/**
 * Posts a finished (or finally failed) job to Discord, exactly once even when the delivery job runs
 * twice: the delivery lifecycle (commands/delivery-lifecycle.ts) with Discord as its surface.
 *
 * Where: a command run in a channel gets a thread started from its status message, and the images
 * go there (bot token: webhooks cannot post into a thread they were not called from). A command or
 * button run inside a thread turns its status message into the result (interaction token) while
 * the token is valid (under 14 minutes; Discord kills it at 15), and posts with the bot token after
 * that or when Discord answers 50027.
 *
 * Exactly once: every post runs under `once` (src/delivery/once.ts: keyed by job and part, recorded
 * in Redis after it succeeded), and channel messages carry a nonce with `enforce_nonce`, so a crash between the post
 * and the record still does not duplicate it; editing the status message twice is harmless; a
 * second thread start answers 160004 and the thread (whose id is the message's) is used.
 *
 * 429s: discord.js waits out the first one of a request; a second fails the attempt (see
 * rate-limit-once.ts) and BullMQ retries the delivery later, so nothing loops.
 */
export interface DiscordDeliveryDeps {
  /** REST with the bot token. */
  bot: REST;
  /** REST for interaction-token webhooks (no bot token needed). */
  webhooks: REST;
  artifacts: ArtifactStore;
  replies: DiscordReplyStore;
  nsfwPolicy(scope: ScopeRef): Promise<NsfwPolicy>;
  once: Once;
  logger: Logger;
  clock?: () => number;
}

/** The interaction token is used until 14 minutes (it dies at 15). */
export const TOKEN_USABLE_MS = 14 * 60 * 1000;
const THREAD_ARCHIVE_MINUTES = 1440;

type Body = Record<string, unknown>;

/** A result message; it pings the member who asked (their image is ready), nobody else. */
function messageBody(part: ResultPart, userId: string): { body: Body; files: RawFile[] } {
  return {
    body: {
      content: part.content ?? '',
      components: part.components ?? [],
      attachments: part.files.map((f, i) => ({
        id: i,
        filename: f.name,
        ...(f.description ? { description: f.description } : {}),
      })),
      allowed_mentions: { parse: [], users: [userId] },
    },
    files: part.files.map((f) => ({ name: f.name, data: f.bytes })),
  };
}

/** Discord's nonce is at most 25 characters; one per job and part. */
function nonceFor(jobId: string, part: string): string {
  return createHash('sha256').update(`${jobId}:${part}`).digest('base64url').slice(0, 25);
}

type StatusAt = { origin: DiscordOrigin; record?: ReplyRecord };

export class DiscordDelivery implements Deliverer {
  private readonly clock: () => number;

  /**
   * The delivery lifecycle's surface (commands/delivery-lifecycle.ts) on Discord. The status
   * message is edited through the interaction token while it lives, else with the bot token.
   */
  private readonly surface: DeliverySurface<StatusAt> = {
    platform: 'discord',
    spoilers: true,
    locate: async (jobId, job) =>
      job.origin.platform === 'discord' ? this.statusAt(jobId, job.origin) : undefined,
    // Delivery shows only final states; the second run of a delivery leaves the first's standing.
    show: (where, jobId, job, state) =>
      this.deps.once(`${jobId}:discord-status`, () =>
        this.editStatus(where.origin, where.record, {
          ...statusMessage(jobId, job, state),
          allowed_mentions: { parse: [] },
        }),
      ),
    nsfwPolicy: (data) => this.deps.nsfwPolicy(data.member.scope),
    channelShowsNsfw: async ({ origin }) => origin.platform === 'discord' && (origin.channelNsfw ?? false),
    // Without a status message the result goes into the channel: no thread to start from.
    resultHome: (jobId, data) => this.statusAt(jobId, data.origin as DiscordOrigin),
    upload: (where, data, view) => this.upload(where, data, view),
    tellPrivately: (where, data, view) => this.tellFailure(where, data, view),
  };

  constructor(private readonly deps: DiscordDeliveryDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  async deliver(data: DeliverJobData): Promise<void> {
    if (data.origin.platform !== 'discord') throw new UnrecoverableError('not a Discord delivery');
    const lifecycle = { marks: this.deps.replies, surface: this.surface, logger: this.deps.logger };
    try {
      await deliverJob(lifecycle, data);
    } catch (error) {
      if (isNoAccess(error)) {
        this.deps.logger.error(
          { jobId: data.jobId, code: discordCode(error) },
          'Discord refused the delivery for good',
        );
        throw new UnrecoverableError(`Discord: ${(error as Error).message}`);
      }
      throw error;
    }
  }

  private tokenUsable(origin: DiscordOrigin): boolean {
    return this.clock() - origin.interactionCreatedAt < TOKEN_USABLE_MS;
  }

  private original(origin: DiscordOrigin): `/${string}` {
    return Routes.webhookMessage(
      origin.applicationId,
      origin.interactionToken,
      origin.statusMessageId ?? '@original',
    );
  }

  /** Into a thread started from the status message; in place when the command ran in a thread. */
  private async upload(where: StatusAt, data: ResultDelivery, view: ResultView): Promise<Uploaded> {
    const { jobId } = data;
    const { origin, record: status } = where;
    const parts = await resultParts(this.deps.artifacts, {
      jobId,
      userId: data.member.userId,
      request: data.request,
      result: data.result,
      view,
      ...(origin.attachmentSizeLimit ? { attachmentSizeLimit: origin.attachmentSizeLimit } : {}),
    });
    if (origin.inThread) return this.resultInPlace(data, origin, parts);
    const target = status
      ? await this.threadFor(jobId, origin, status, data.request.prompt)
      : origin.channelId;
    for (const [i, part] of parts.entries()) {
      await this.deps.once(`${jobId}:discord-part-${i}`, () =>
        this.post(origin, target, jobId, `part:${i}`, part, data.member.userId),
      );
    }
    return { where: target === origin.channelId ? 'here' : 'thread' };
  }

  /**
   * In a thread: the status message becomes the result while the interaction token lives; after
   * that the result is a new message below it, and the status says done. Later parts follow.
   */
  private async resultInPlace(
    data: ResultDelivery,
    origin: DiscordOrigin,
    parts: ResultPart[],
  ): Promise<Uploaded> {
    const { jobId } = data;
    const [first, ...rest] = parts;
    if (!first) return { where: 'here' };
    // Stored with the part, so a second run knows what became of the status message.
    const replaced = await this.deps.once(`${jobId}:discord-part-0`, async () => {
      if (this.tokenUsable(origin)) {
        try {
          const { body, files } = messageBody(first, data.member.userId);
          await this.deps.webhooks.patch(this.original(origin), { body, files, auth: false });
          return true;
        } catch (error) {
          if (!isDeadToken(error)) throw error;
          this.deps.logger.info(
            { jobId, code: discordCode(error) },
            'interaction token dead; posting with the bot token',
          );
        }
      }
      await this.post(origin, origin.channelId, jobId, 'part:0', first, data.member.userId);
      return false;
    });
    for (const [i, part] of rest.entries()) {
      await this.deps.once(`${jobId}:discord-part-${i + 1}`, () =>
        this.post(origin, origin.channelId, jobId, `part:${i + 1}`, part, data.member.userId),
      );
    }
    return replaced ? { replacedStatus: true } : { where: 'here' };
  }

  private async statusAt(jobId: string, origin: DiscordOrigin): Promise<StatusAt> {
    return { origin, record: await this.statusMessage(jobId, origin) };
  }

  /** Where the job's status message is: recorded by the bot, else asked of Discord while the token lives. */
  private async statusMessage(jobId: string, origin: DiscordOrigin): Promise<ReplyRecord | undefined> {
    const recorded = await this.deps.replies.get(jobId);
    if (recorded) return recorded;
    if (!this.tokenUsable(origin)) return undefined;
    try {
      const message = (await this.deps.webhooks.get(this.original(origin), { auth: false })) as {
        id: string;
        channel_id: string;
      };
      return { channelId: message.channel_id, messageId: message.id };
    } catch (error) {
      if (isDeadToken(error) || discordCode(error) === DiscordCode.UnknownMessage) return undefined;
      throw error;
    }
  }

  /** A thread started from the status message (its id is the message's); the channel when none can be. */
  private async threadFor(
    jobId: string,
    origin: DiscordOrigin,
    status: ReplyRecord,
    prompt: string,
  ): Promise<string> {
    try {
      await this.deps.bot.post(Routes.threads(status.channelId, status.messageId), {
        body: { name: truncate(prompt || 'easel', 100), auto_archive_duration: THREAD_ARCHIVE_MINUTES },
      });
      return status.messageId;
    } catch (error) {
      const code = discordCode(error);
      if (code === DiscordCode.ThreadAlreadyCreated) return status.messageId;
      if (
        code === DiscordCode.CannotExecuteOnChannelType ||
        isNoAccess(error) ||
        code === DiscordCode.UnknownMessage
      ) {
        this.deps.logger.warn({ jobId, code }, 'cannot start a thread; posting in the channel');
        return origin.channelId;
      }
      throw error;
    }
  }

  /**
   * A new message with the bot token (nonce-deduplicated); where the bot may not post but the
   * interaction token still works, a follow-up through it instead.
   */
  private async post(
    origin: DiscordOrigin,
    channelId: string,
    jobId: string,
    part: string,
    message: ResultPart,
    userId: string,
  ): Promise<void> {
    const { body, files } = messageBody(message, userId);
    try {
      await this.deps.bot.post(Routes.channelMessages(channelId), {
        body: { ...body, nonce: nonceFor(jobId, part), enforce_nonce: true },
        files,
      });
    } catch (error) {
      if (!isNoAccess(error) || !this.tokenUsable(origin) || channelId !== origin.channelId) throw error;
      await this.deps.webhooks.post(Routes.webhook(origin.applicationId, origin.interactionToken), {
        body,
        files,
        auth: false,
        query: new URLSearchParams({ wait: 'true' }),
      });
    }
  }

  /** The status message's new text: through the interaction token while it lives, else the bot's. */
  private async editStatus(
    origin: DiscordOrigin,
    status: ReplyRecord | undefined,
    body: Body,
  ): Promise<void> {
    if (this.tokenUsable(origin)) {
      try {
        await this.deps.webhooks.patch(this.original(origin), { body, auth: false });
        return;
      } catch (error) {
        if (!isDeadToken(error) && discordCode(error) !== DiscordCode.UnknownMessage) throw error;
      }
    }
    if (!status) return;
    await this.deps.bot
      .patch(Routes.channelMessage(status.channelId, status.messageId), { body })
      .catch((err: unknown) => {
        // Cosmetic: the result itself is posted; an old status line is not worth failing the delivery.
        this.deps.logger.warn({ err, code: discordCode(err) }, 'could not update the status message');
      });
  }

  /** Privately through the interaction while its token lives; else in the channel, to the member by name. */
  private async tellFailure(
    where: StatusAt | undefined,
    data: DeliverJobData,
    view: FailureView,
  ): Promise<void> {
    const { jobId } = data;
    const origin = data.origin as DiscordOrigin;
    const notice = discordFailureNotice(view);
    await this.deps.once(`${jobId}:discord-notice`, async () => {
      if (this.tokenUsable(origin)) {
        try {
          await this.deps.webhooks.post(Routes.webhook(origin.applicationId, origin.interactionToken), {
            body: { content: notice, flags: 64, allowed_mentions: { parse: [] } },
            auth: false,
            query: new URLSearchParams({ wait: 'true' }),
          });
          return;
        } catch (error) {
          if (!isDeadToken(error)) throw error;
        }
      }
      await this.deps.bot.post(Routes.channelMessages(where?.record?.channelId ?? origin.channelId), {
        body: {
          content: `<@${data.member.userId}> ${notice}`,
          allowed_mentions: { users: [data.member.userId] },
          nonce: nonceFor(jobId, 'notice'),
          enforce_nonce: true,
        },
      });
    });
  }
}
