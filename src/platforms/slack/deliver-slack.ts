import type { webApi } from '@slack/bolt';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { cancelButton, decodeActionId, resultButtonRows } from '../../../commands/actions.ts';
import { finishStatus, refundSentence, type StatusState } from '../../../commands/status-lifecycle.ts';
import type { ArtifactStore } from '../../artifacts/artifact-store.ts';
import { clipUpload } from '../../delivery/clip-file.ts';
import type { Deliverer, DelivererFactory } from '../../delivery/deliverer.ts';
import { createOnce, type Once } from '../../delivery/once.ts';
import type { Logger } from '../../log/logger.ts';
import type { ScopeRef } from '../../members/member-ref.ts';
import type { DeliverJobData, GenerateResult, RenderedImage, SlackOrigin } from '../../queue/job-data.ts';
import type { NsfwPolicy } from '../../quotas/quota-policy.ts';
import { clipLine } from '../clip-line.ts';
import { imageTreatment } from '../image-treatment.ts';
import { jobTitle } from './blocks/job-title.ts';
import { type ResultButton, resultMessage } from './blocks/result-message.ts';
import { statusMessage } from './blocks/status-message.ts';
import { NsfwChannels } from './nsfw-channels.ts';
import { slackErrorCode } from './slack-error-code.ts';
import { truncate } from './slack-limits.ts';
import { slackStatus } from './slack-progress.ts';
import { createSlackWebClient } from './slack-web-client.ts';
import { type StatusRecord, StatusStore } from './status-store.ts';

/**
 * Posts a finished job to Slack: the image(s) uploaded into the job's thread with the three-step
 * upload (`files.uploadV2`: getUploadURLExternal, the bytes, completeUploadExternal with
 * `thread_ts`), then the buttons, then the status message turned to "done". A failure turns the
 * status message to "failed" and tells the member (ephemeral) what failed and what was refunded.
 *
 * Delivery is at least once (BullMQ), so each side effect runs under `once` (src/delivery/once.ts)
 * keyed by job id and step: a delivery job that runs twice posts nothing twice. Rate limits (429 + Retry-After) are waited out
 * by the Web API client, which pauses and retries the same call; errors no retry can fix (the
 * channel is gone, the token revoked) fail the delivery job without retries.
 */
export interface SlackDeliveryDeps {
  client: webApi.WebClient;
  artifacts: ArtifactStore;
  statusStore: StatusStore;
  nsfwChannels: NsfwChannels;
  /** The scope's NSFW policy (quota setting). */
  nsfwPolicy(scope: ScopeRef): Promise<NsfwPolicy>;
  once: Once;
  logger: Logger;
  /** How long to wait for the frontend to record the status message before posting one. */
  statusWaitMs?: number;
}

/** Platform errors a retry cannot fix. */
/** Slack has no spoilers (imageTreatment shows a spoilered image only where the channel may). */
const SLACK_CAN = { spoilers: false };
/** Slack plays an MP4 in the message and animates a GIF; it shows an animated WebP as a still. */
const SLACK_CLIP_ORDER = ['mp4', 'gif', 'webp'] as const;
/** files.completeUploadExternal's alt_text is at most 1000 characters. */
const ALT_TEXT_MAX = 1000;

const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'not_authed',
  'restricted_action',
]);

export class SlackDelivery implements Deliverer {
  constructor(private readonly deps: SlackDeliveryDeps) {}

  async deliver(data: DeliverJobData): Promise<void> {
    if (data.origin.platform !== 'slack') throw new UnrecoverableError('not a Slack delivery');
    try {
      if (data.kind === 'result') await this.deliverResult(data, data.origin);
      else await this.deliverFailure(data, data.origin);
    } catch (error) {
      const code = slackErrorCode(error);
      if (code && PERMANENT.has(code)) {
        this.deps.logger.error({ jobId: data.jobId, code }, 'Slack refused the delivery for good');
        throw new UnrecoverableError(`Slack: ${code}`);
      }
      throw error;
    }
  }

  private async deliverResult(data: DeliverJobData, origin: SlackOrigin): Promise<void> {
    const result = data.result;
    if (!result) throw new UnrecoverableError('result delivery without a result');
    const { client, logger } = this.deps;
    const status = await this.statusFor(data, origin);
    const shown = await this.shownImages(data, origin, result);
    const blocked = result.images.map((_, i) => i).filter((i) => !shown.includes(i));

    await this.deps.once(`${data.jobId}:slack-upload`, async () => {
      const files = await this.filesToUpload(data, result, shown);
      if (files.length === 0) return;
      await client.files.uploadV2({
        channel_id: status.channelId,
        thread_ts: status.threadTs,
        initial_comment: this.caption(data, result),
        file_uploads: files,
      });
    });

    await this.deps.once(`${data.jobId}:slack-buttons`, async () => {
      const notes: string[] = [];
      if (blocked.length > 0) {
        const which = blocked.map((i) => i + 1).join(', ');
        notes.push(
          `:no_entry: Image${blocked.length === 1 ? '' : 's'} ${which} ${blocked.length === 1 ? 'was' : 'were'} flagged as NSFW and not shown: this workspace's policy does not allow it in this channel.`,
        );
      }
      if (result.truncatedWords.length > 0) {
        notes.push(
          `:scissors: The prompt was longer than the model reads (77 tokens); these words were left out: ${result.truncatedWords.join(' ')}`,
        );
      }
      for (const warning of result.warnings ?? []) notes.push(`:warning: ${warning}`);
      const message = resultMessage({
        userId: data.member.userId,
        prompt: data.request.prompt,
        seed: result.seed,
        rows: shownRows(resultButtonRows({ jobId: data.jobId, request: data.request, result }), shown),
        notes,
      });
      await client.chat.postMessage({
        channel: status.channelId,
        thread_ts: status.threadTs,
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
      });
    });

    await this.finishStatus(data, status, {
      kind: 'done',
      seconds: result.timings.totalMs / 1000,
      images: result.images.length,
    });
    logger.info({ jobId: data.jobId, shown: shown.length, blocked: blocked.length }, 'delivered to Slack');
  }

  private async deliverFailure(data: DeliverJobData, origin: SlackOrigin): Promise<void> {
    const failure = data.failure ?? { message: 'The render failed.', refunded: 0 };
    const status = await this.deps.statusStore.get(data.jobId);
    if (status) await this.finishStatus(data, status, { kind: 'failed', ...failure });
    await this.deps.once(`${data.jobId}:slack-failure-notice`, async () => {
      await this.deps.client.chat.postEphemeral({
        channel: status?.channelId ?? origin.channelId,
        user: data.member.userId,
        text: `Your request "${data.request.prompt.slice(0, 200)}" failed: ${failure.message} ${refundSentence(failure.refunded)}`,
        ...(status ? { thread_ts: status.threadTs } : {}),
      });
    });
  }

  /**
   * The job's status message. The frontend records it right after admission; if it has not
   * (the bot died in between), delivery posts one itself so the result still has a home.
   */
  private async statusFor(data: DeliverJobData, origin: SlackOrigin): Promise<StatusRecord> {
    const { statusStore } = this.deps;
    const deadline = Date.now() + (this.deps.statusWaitMs ?? 10_000);
    for (;;) {
      const record = await statusStore.get(data.jobId);
      if (record) return record;
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const message = statusMessage({
      title: jobTitle(data.request),
      userId: data.member.userId,
      cost: 0,
      state: { kind: 'rendering', step: 0, total: 0 },
      cancelActionId: cancelButton(data.jobId).actionId,
    });
    const posted = await this.deps.client.chat.postMessage({
      channel: origin.channelId,
      text: message.text,
      blocks: message.blocks,
      ...(origin.parentTs ? { thread_ts: origin.parentTs } : {}),
    });
    const ts = posted.ts as string;
    const claim = await statusStore.claim(data.jobId, {
      channelId: origin.channelId,
      statusTs: ts,
      threadTs: origin.parentTs ?? ts,
      userId: data.member.userId,
      cost: 0,
    });
    if (!claim.won)
      await this.deps.client.chat.delete({ channel: origin.channelId, ts }).catch(() => undefined);
    return claim.record;
  }

  /** Indexes of the images this channel may show, after the workspace's NSFW policy. */
  private async shownImages(
    data: DeliverJobData,
    origin: SlackOrigin,
    result: GenerateResult,
  ): Promise<number[]> {
    const flagged = result.images.some((image) => image.nsfw?.nsfw);
    if (!flagged) return result.images.map((_, i) => i);
    const policy = await this.deps.nsfwPolicy(data.member.scope);
    // Slack has neither an NSFW channel flag nor spoilers: the channels the workspace's admins
    // marked stand for age-restricted ones, and a blanked image is left out.
    const marked =
      policy !== 'block' && (await this.deps.nsfwChannels.isMarked(origin.teamId, origin.channelId));
    return result.images
      .map((image, i) => ({ i, treatment: imageTreatment(image.nsfw, policy, marked, SLACK_CAN) }))
      .filter(({ treatment }) => treatment === 'show')
      .map(({ i }) => i);
  }

  private async filesToUpload(
    data: DeliverJobData,
    result: GenerateResult,
    shown: number[],
  ): Promise<{ file: Buffer; filename: string; title: string; alt_text: string }[]> {
    const alt = truncate(data.request.prompt, ALT_TEXT_MAX);
    const read = async (artifactId: string) => {
      const stored = await this.deps.artifacts.get(artifactId);
      if (!stored) throw new UnrecoverableError(`artifact ${artifactId} is gone (past retention?)`);
      return stored.bytes;
    };
    if (result.video !== undefined) {
      if (!shown.includes(0)) return [];
      const clip = await clipUpload(
        this.deps.artifacts,
        result.video,
        `easel-${result.seed}-clip`,
        SLACK_CLIP_ORDER,
      );
      return [{ file: clip.bytes, filename: clip.name, title: clipLine(result.video), alt_text: alt }];
    }
    if (shown.length === result.images.length && result.grid) {
      return [
        {
          file: await read(result.grid.artifactId),
          filename: `easel-${result.seed}-grid.png`,
          title: 'Grid',
          alt_text: alt,
        },
      ];
    }
    const files = [];
    for (const i of shown) {
      const image = result.images[i] as RenderedImage;
      files.push({
        file: await read(image.artifactId),
        filename: `easel-${image.seed}-${i + 1}.png`,
        title: `Image ${i + 1}`,
        alt_text: alt,
      });
    }
    return files;
  }

  private caption(data: DeliverJobData, result: GenerateResult): string {
    const first = result.images[0];
    const size = first ? ` · ${first.width}x${first.height}` : '';
    return `<@${data.member.userId}> ${jobTitle(data.request)} — seed ${result.seed}${size} · ${result.model} · ${(result.timings.totalMs / 1000).toFixed(1)} s`;
  }

  private async finishStatus(
    data: DeliverJobData,
    status: StatusRecord,
    state: Extract<StatusState, { kind: 'done' | 'failed' }>,
  ): Promise<void> {
    // The seed the worker used (a random one is only known from the result).
    const request = data.result ? { ...data.request, seed: data.result.seed } : data.request;
    try {
      await finishStatus(
        this.deps.statusStore,
        slackStatus(this.deps),
        status,
        data.jobId,
        { ...data, request },
        state,
      );
    } catch (error) {
      // The result is posted; a status message someone deleted is no reason to retry the job.
      this.deps.logger.warn({ err: error, jobId: data.jobId }, 'status message not updated');
    }
  }
}

/** The result buttons, less those acting on an image this channel may not show. */
function shownRows(rows: ResultButton[][], shown: number[]): ResultButton[][] {
  if (shown.length === 0) return [];
  return rows
    .map((row) =>
      row.filter((button) => {
        const action = decodeActionId(button.actionId);
        return !('index' in action) || shown.includes(action.index);
      }),
    )
    .filter((row) => row.length > 0);
}

/** The deliverer the deliver role registers for `origin.platform === 'slack'`. */
export function createSlackDelivery(options: {
  client: webApi.WebClient;
  redis: Redis;
  keyPrefix: string;
  artifacts: ArtifactStore;
  nsfwPolicy(scope: ScopeRef): Promise<NsfwPolicy>;
  once: Once;
  logger: Logger;
}): SlackDelivery {
  return new SlackDelivery({
    client: options.client,
    artifacts: options.artifacts,
    statusStore: new StatusStore(options.redis, options.keyPrefix),
    nsfwChannels: new NsfwChannels(options.redis, options.keyPrefix),
    nsfwPolicy: options.nsfwPolicy,
    once: options.once,
    logger: options.logger.child({ platform: 'slack' }),
  });
}

/** The Slack deliverer of the `deliver` role (registered for `origin.platform === 'slack'`). */
export const slackDeliverer: DelivererFactory = async ({ config, logger, services }) =>
  createSlackDelivery({
    client: createSlackWebClient(config, logger),
    redis: services.redis,
    keyPrefix: config.QUEUE_PREFIX,
    artifacts: services.artifacts,
    nsfwPolicy: async (scope) => (await services.quotas.get(scope)).nsfw,
    once: createOnce(services.redis, config.QUEUE_PREFIX),
    logger,
  });
