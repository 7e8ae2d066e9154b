import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webApi } from '@slack/bolt';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { createOnce } from '../../src/delivery/once.ts';
import { createLogger } from '../../src/log/logger.ts';
import { SlackDelivery } from '../../src/platforms/slack/deliver-slack.ts';
import { NsfwChannels } from '../../src/platforms/slack/nsfw-channels.ts';
import { StatusStore } from '../../src/platforms/slack/status-store.ts';
import type { DeliverJobData, GenerateResult, RenderedImage } from '../../src/queue/job-data.ts';
import type { NsfwPolicy } from '../../src/quotas/quota-policy.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { FakeSlack } from '../fakes/slack/fake-slack.ts';
import { testRedis, uniquePrefix } from '../support/redis.ts';

/**
 * The Slack deliverer against the fake Slack and real Redis: a result goes into the job's thread
 * once, however often the delivery job runs; a 429 is waited out; NSFW-flagged images are replaced
 * by a notice outside channels the admins marked; a failure tells the member what was refunded.
 */
let fake: FakeSlack;
let redis: Redis;
let artifactsDir: string;
let artifacts: DiskArtifactStore;
let prefix: string;
let policy: NsfwPolicy;
let delivery: SlackDelivery;
let statusStore: StatusStore;
let nsfwChannels: NsfwChannels;
let poster: webApi.WebClient;

beforeAll(async () => {
  fake = await FakeSlack.start();
  redis = testRedis();
  prefix = uniquePrefix('slack-delivery');
  artifactsDir = await mkdtemp(join(tmpdir(), 'easel-slack-delivery-'));
  artifacts = new DiskArtifactStore(artifactsDir);
  statusStore = new StatusStore(redis, prefix);
  nsfwChannels = new NsfwChannels(redis, prefix);
  const client = new webApi.WebClient(fake.botToken, {
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 3, factor: 1, minTimeout: 10, maxTimeout: 10 },
  });
  poster = new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl });
  delivery = new SlackDelivery({
    client,
    artifacts,
    statusStore,
    nsfwChannels,
    nsfwPolicy: async () => policy,
    once: createOnce(redis, prefix),
    logger: createLogger('silent'),
    statusWaitMs: 300,
  });
});

afterAll(async () => {
  await fake.close();
  await redis.quit();
  await rm(artifactsDir, { recursive: true, force: true });
});

beforeEach(() => {
  policy = 'block';
});

let jobCounter = 0;

async function png(colour: string): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 64, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

async function setup(options: { count: number; nsfw?: number[]; channel?: string }) {
  jobCounter += 1;
  const jobId = `gtestjob${jobCounter}`;
  const channel = options.channel ?? 'C0000GENERAL';
  const parent = await poster.chat.postMessage({ channel, text: 'parent' });
  await statusStore.claim(jobId, {
    channelId: channel,
    statusTs: parent.ts as string,
    threadTs: parent.ts as string,
    userId: 'UALICE',
    cost: options.count,
  });
  const images: RenderedImage[] = [];
  const colours = ['red', 'green', 'blue', 'yellow'];
  for (let i = 0; i < options.count; i++) {
    const bytes = await png(colours[i] as string);
    const artifactId = await artifacts.put(bytes, { contentType: 'image/png', jobId });
    images.push({
      artifactId,
      width: 64,
      height: 64,
      bytes: bytes.length,
      seed: 42 + i,
      nsfw: options.nsfw
        ? { nsfw: options.nsfw.includes(i), score: options.nsfw.includes(i) ? 0.9 : 0.1 }
        : null,
    });
  }
  const gridBytes = await png('white');
  const grid =
    options.count > 1
      ? {
          artifactId: await artifacts.put(gridBytes, { contentType: 'image/png', jobId }),
          width: 128,
          height: 128,
          bytes: gridBytes.length,
        }
      : undefined;
  const request: GenerationRequest = {
    mode: 'txt2img',
    prompt: 'a red circle',
    negativePrompt: '',
    model: 'tiny',
    width: 64,
    height: 64,
    steps: 4,
    guidance: 5,
    sampler: 'euler',
    seed: 42,
    count: options.count,
  };
  const result: GenerateResult = {
    v: 1,
    images,
    ...(grid ? { grid } : {}),
    seed: 42,
    model: 'tiny',
    provider: 'cpu',
    truncatedWords: [],
    timings: { loadMs: 1, renderMs: 10, totalMs: 12 },
  };
  const data: DeliverJobData = {
    v: 1,
    kind: 'result',
    jobId,
    member: { scope: { kind: 'slack', id: fake.teamId }, userId: 'UALICE' },
    origin: { platform: 'slack', teamId: fake.teamId, channelId: channel, userId: 'UALICE' },
    request,
    result,
  };
  return { jobId, data, parentTs: parent.ts as string, channel };
}

describe('Slack delivery', () => {
  it('uploads the grid into the thread with the three upload steps, then the buttons, once however often it runs', async () => {
    const { data, parentTs, channel } = await setup({ count: 4 });
    await delivery.deliver(data);
    await delivery.deliver(data);

    const thread = fake.thread(channel, parentTs);
    const withFiles = thread.filter((m) => m.files.length > 0);
    expect(withFiles).toHaveLength(1);
    expect(withFiles[0]?.files.map((f) => f.filename)).toEqual(['easel-42-grid.png']);
    expect(withFiles[0]?.text).toContain('<@UALICE>');
    const completes = fake
      .callsTo('files.completeUploadExternal')
      .filter((c) => c.args.thread_ts === parentTs);
    expect(completes).toHaveLength(1);
    const buttons = thread.filter((m) => m.blocks.some((b) => (b as { type: string }).type === 'actions'));
    expect(buttons).toHaveLength(1);
    const labels = JSON.stringify(buttons[0]?.blocks).match(/"text":"(U\d|V\d|Reroll)"/g);
    expect(labels).toHaveLength(9);
    const parent = fake.message(channel, parentTs);
    expect(JSON.stringify(parent?.blocks)).toContain('Done');
    expect(JSON.stringify(parent?.blocks)).not.toContain('"text":"Cancel"');
  });

  it('waits out a 429 with Retry-After and still posts the image once', async () => {
    const { data, parentTs, channel } = await setup({ count: 1 });
    fake.rateLimitNext('files.completeUploadExternal', 1);
    const started = Date.now();
    await delivery.deliver(data);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(fake.thread(channel, parentTs).filter((m) => m.files.length > 0)).toHaveLength(1);
  });

  it('replaces NSFW-flagged images with a notice outside marked channels', async () => {
    policy = 'allow-in-nsfw-channels';
    const { data, parentTs, channel } = await setup({ count: 2, nsfw: [1] });
    await delivery.deliver(data);
    const thread = fake.thread(channel, parentTs);
    const files = thread.flatMap((m) => m.files);
    expect(files.map((f) => f.title)).toEqual(['Image 1']);
    const notice = JSON.stringify(thread.map((m) => m.blocks));
    expect(notice).toContain('Image 2 was flagged by the safety checker and left out');
    expect(notice).not.toMatch(/"action_id":"e1:u2:[^"]+:1"/);
  });

  it('shows NSFW-flagged images in a channel the admins marked, when the policy allows it', async () => {
    policy = 'allow-in-nsfw-channels';
    await nsfwChannels.mark(fake.teamId, 'CNSFW', true);
    const { data, parentTs, channel } = await setup({ count: 2, nsfw: [1], channel: 'CNSFW' });
    await delivery.deliver(data);
    const files = fake.thread(channel, parentTs).flatMap((m) => m.files);
    expect(files.map((f) => f.filename)).toEqual(['easel-42-grid.png']);
  });

  it('blocks NSFW-flagged images even in a marked channel when the policy is block', async () => {
    policy = 'block';
    const { data, parentTs, channel } = await setup({ count: 1, nsfw: [0], channel: 'CNSFW' });
    await delivery.deliver(data);
    const thread = fake.thread(channel, parentTs);
    expect(thread.flatMap((m) => m.files)).toHaveLength(0);
    expect(JSON.stringify(thread.map((m) => m.blocks))).toContain(
      'Image 1 was flagged by the safety checker',
    );
  });

  it('tells the member privately about a failure and the refund, and marks the parent failed, once', async () => {
    const { data, parentTs, channel } = await setup({ count: 1 });
    const failure: DeliverJobData = {
      ...data,
      kind: 'failure',
      result: undefined,
      failure: { message: 'The model is not installed on the render workers.', refunded: 1 },
    };
    const before = fake.callsTo('chat.postEphemeral').length;
    await delivery.deliver(failure);
    await delivery.deliver(failure);
    const notices = fake.callsTo('chat.postEphemeral').slice(before);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.args).toMatchObject({ channel, user: 'UALICE', thread_ts: parentTs });
    expect(String(notices[0]?.args.text)).toContain('1 credit went back to your balance');
    expect(JSON.stringify(fake.message(channel, parentTs)?.blocks)).toContain(
      'Failed: The model is not installed',
    );
  });

  it('posts a parent of its own when the frontend never recorded one', async () => {
    const { data } = await setup({ count: 1 });
    const orphan: DeliverJobData = { ...data, jobId: 'gorphan1' };
    await delivery.deliver(orphan);
    const record = await statusStore.get('gorphan1');
    expect(record).toBeDefined();
    const files = fake
      .thread(record?.channelId as string, record?.threadTs as string)
      .flatMap((m) => m.files);
    expect(files).toHaveLength(1);
  });

  it('fails for good, without retries, when Slack says the channel is gone', async () => {
    const { data } = await setup({ count: 1 });
    const gone: DeliverJobData = {
      ...data,
      jobId: 'ggone1',
      origin: { platform: 'slack', teamId: fake.teamId, channelId: '', userId: 'UALICE' },
    };
    await expect(delivery.deliver(gone)).rejects.toMatchObject({ name: 'UnrecoverableError' });
  });
});
