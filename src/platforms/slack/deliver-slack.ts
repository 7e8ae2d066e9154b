import type { webApi } from '@slack/bolt';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { decodeActionId, resultButtonRows } from '../../../commands/actions.ts';
import {
  type DeliverySurface,
  deliverJob,
  type FailureView,
  type ResultDelivery,
  type ResultView,
  type Uploaded,
} from '../../../commands/delivery-lifecycle.ts';
import type { ArtifactStore } from '../../artifacts/artifact-store.ts';
import { clipUpload } from '../../delivery/clip-file.ts';
import type { Deliverer, DelivererFactory } from '../../delivery/deliverer.ts';
import { createOnce, type Once } from '../../delivery/once.ts';
import type { Logger } from '../../log/logger.ts';
import type { ScopeRef } from '../../members/member-ref.ts';
import type { DeliverJobData, RenderedImage, SlackOrigin } from '../../queue/job-data.ts';
import type { NsfwPolicy } from '../../quotas/quota-policy.ts';
import { clipLine } from '../clip-line.ts';
import { jobTitle } from './blocks/job-title.ts';
import { type ResultButton, resultMessage } from './blocks/result-message.ts';
import { slackFailureNotice, slackNote } from './blocks/result-notes.ts';
import { NsfwChannels } from './nsfw-channels.ts';
import { slackErrorCode } from './slack-error-code.ts';
import { truncate } from './slack-limits.ts';
import { slackStatus } from './slack-progress.ts';
import { createSlackWebClient } from './slack-web-client.ts';
import { type StatusRecord, StatusStore } from './status-store.ts';
import { sayPrivately } from './tell-member.ts';

/**
 * Delivers a finished job to Slack: the delivery lifecycle (commands/delivery-lifecycle.ts) with
 * Slack as its surface. The image(s) go into the job's thread with the three-step upload
 * (`files.uploadV2`: getUploadURLExternal, the bytes, completeUploadExternal with `thread_ts`),
 * then the buttons and notes; the lifecycle then turns the status message to "done". A failure
 * turns it to "failed" and tells the member (ephemeral) what failed and what was refunded.
 *
 * Delivery is at least once (BullMQ), so each side effect runs under `once` (src/delivery/once.ts)
 * keyed by job id and step: a delivery job that runs twice posts nothing twice. Rate limits (429 +
 * Retry-After) are waited out by the Web API client, which pauses and retries the same call; errors
 * no retry can fix (the channel is gone, the token revoked) fail the delivery job without retries.
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

/** Slack plays an MP4 in the message and animates a GIF; it shows an animated WebP as a still. */
const SLACK_CLIP_ORDER = ['mp4', 'gif', 'webp'] as const;
/** files.completeUploadExternal's alt_text is at most 1000 characters. */
const ALT_TEXT_MAX = 1000;

/** Platform errors a retry cannot fix. */
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
  /** The delivery lifecycle's surface (commands/delivery-lifecycle.ts) on Slack. */
  private readonly surface: DeliverySurface<StatusRecord>;
  /** The status message as progress edits show it; delivery also posts one when none was. */
  private readonly status: ReturnType<typeof slackStatus>;

  constructor(private readonly deps: SlackDeliveryDeps) {
    const status = slackStatus(deps);
    this.status = status;
    this.surface = {
      platform: status.platform,
      locate: status.locate,
      show: status.show,
      spoilers: false,
      nsfwPolicy: (data) => deps.nsfwPolicy(data.member.scope),
      channelShowsNsfw: async ({ origin }) =>
        origin.platform === 'slack' && (await deps.nsfwChannels.isMarked(origin.teamId, origin.channelId)),
      resultHome: (jobId, data) => this.statusFor(jobId, data),
      upload: (record, data, view) => this.upload(record, data, view),
      tellPrivately: (record, data, view) => this.tellFailure(record, data, view),
    };
  }

  async deliver(data: DeliverJobData): Promise<void> {
    if (data.origin.platform !== 'slack') throw new UnrecoverableError('not a Slack delivery');
    const lifecycle = { marks: this.deps.statusStore, surface: this.surface, logger: this.deps.logger };
    try {
      await deliverJob(lifecycle, data);
    } catch (error) {
      const code = slackErrorCode(error);
      if (code && PERMANENT.has(code)) {
        this.deps.logger.error({ jobId: data.jobId, code }, 'Slack refused the delivery for good');
        throw new UnrecoverableError(`Slack: ${code}`);
      }
      throw error;
    }
  }

  /** The images into the job's thread (one upload), then the buttons and notes below them. */
  private async upload(status: StatusRecord, data: ResultDelivery, view: ResultView): Promise<Uploaded> {
    const { client } = this.deps;
    const { result } = data;
    await this.deps.once(`${data.jobId}:slack-upload`, async () => {
      const files = await this.filesToUpload(data, view.shown);
      if (files.length === 0) return;
      await client.files.uploadV2({
        channel_id: status.channelId,
        thread_ts: status.threadTs,
        initial_comment: this.caption(data),
        file_uploads: files,
      });
    });
    await this.deps.once(`${data.jobId}:slack-buttons`, async () => {
      const message = resultMessage({
        userId: data.member.userId,
        prompt: data.request.prompt,
        seed: result.seed,
        rows: shownRows(resultButtonRows({ jobId: data.jobId, request: data.request, result }), view.shown),
        notes: view.notes.map(slackNote),
      });
      await client.chat.postMessage({
        channel: status.channelId,
        thread_ts: status.threadTs,
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
      });
    });
    return {};
  }

  /** The failure notice, ephemeral, in the job's thread when it has a status message. */
  private async tellFailure(
    status: StatusRecord | undefined,
    data: DeliverJobData,
    view: FailureView,
  ): Promise<void> {
    await this.deps.once(`${data.jobId}:slack-failure-notice`, () =>
      sayPrivately(
        {
          client: this.deps.client,
          channelId: status?.channelId ?? (data.origin as SlackOrigin).channelId,
          userId: data.member.userId,
          ...(status ? { threadTs: status.threadTs } : {}),
        },
        slackFailureNotice(view),
        this.deps.logger,
      ),
    );
  }

  /**
   * The job's status message. The frontend records it right after admission; if it has not
   * (the bot died in between), delivery posts one itself so the result still has a home.
   */
  private async statusFor(jobId: string, data: DeliverJobData): Promise<StatusRecord> {
    const { statusStore } = this.deps;
    const deadline = Date.now() + (this.deps.statusWaitMs ?? 10_000);
    for (;;) {
      const record = await statusStore.get(jobId);
      if (record) return record;
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return this.status.post(jobId, { ...data, cost: 0 }, { kind: 'rendering', step: 0, total: 0 });
  }

  private async filesToUpload(
    data: ResultDelivery,
    shown: number[],
  ): Promise<{ file: Buffer; filename: string; title: string; alt_text: string }[]> {
    const { result } = data;
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

  private caption(data: ResultDelivery): string {
    const { result } = data;
    const first = result.images[0];
    const size = first ? ` · ${first.width}x${first.height}` : '';
    return `<@${data.member.userId}> ${jobTitle(data.request)} — seed ${result.seed}${size} · ${result.model} · ${(result.timings.totalMs / 1000).toFixed(1)} s`;
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
