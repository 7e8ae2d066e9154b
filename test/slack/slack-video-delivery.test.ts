import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webApi } from '@slack/bolt';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { createOnce } from '../../src/delivery/once.ts';
import { encodeClip } from '../../src/engine/video/encode-clip.ts';
import { ffmpegVersion } from '../../src/engine/video/ffmpeg.ts';
import { createLogger } from '../../src/log/logger.ts';
import { SlackDelivery } from '../../src/platforms/slack/deliver-slack.ts';
import { NsfwChannels } from '../../src/platforms/slack/nsfw-channels.ts';
import { StatusStore } from '../../src/platforms/slack/status-store.ts';
import type { DeliverJobData, RenderedClip } from '../../src/queue/job-data.ts';
import type { NsfwPolicy } from '../../src/quotas/quota-policy.ts';
import { FakeSlack } from '../fakes/slack/fake-slack.ts';
import { testRedis, uniquePrefix } from '../support/redis.ts';

let fake: FakeSlack;
let redis: Redis;
let artifactsDir: string;
let artifacts: DiskArtifactStore;
let prefix: string;
let delivery: SlackDelivery;
let statusStore: StatusStore;
let poster: webApi.WebClient;
const policy: NsfwPolicy = 'block';

beforeAll(async () => {
  fake = await FakeSlack.start();
  redis = testRedis();
  prefix = uniquePrefix('slack-video');
  artifactsDir = await mkdtemp(join(tmpdir(), 'easel-slack-video-'));
  artifacts = new DiskArtifactStore(artifactsDir);
  statusStore = new StatusStore(redis, prefix);
  poster = new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl });
  delivery = new SlackDelivery({
    client: new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl }),
    artifacts,
    statusStore,
    nsfwChannels: new NsfwChannels(redis, prefix),
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

let jobs = 0;

/** A finished clip job of 8 frames whose status message is in `channel`. */
async function clipJob(nsfw: boolean) {
  jobs++;
  const jobId = `gvideojob${jobs}`;
  const channel = 'C0000GENERAL';
  const parent = await poster.chat.postMessage({ channel, text: 'parent' });
  await statusStore.claim(jobId, {
    channelId: channel,
    statusTs: parent.ts as string,
    threadTs: parent.ts as string,
    userId: 'UALICE',
    cost: 8,
  });
  const frames = Array.from({ length: 8 }, (_, i) => ({
    data: Buffer.alloc(64 * 64 * 3, i * 30),
    width: 64,
    height: 64,
  }));
  const files = [];
  for (const e of await encodeClip(frames, 8)) {
    files.push({
      format: e.format,
      artifactId: await artifacts.put(e.bytes, { contentType: e.contentType, jobId }),
      contentType: e.contentType,
      bytes: e.bytes.length,
    });
  }
  const verdict = { nsfw, score: nsfw ? 0.9 : 0.1 };
  const clip: RenderedClip = {
    frames: 8,
    fps: 8,
    loop: true,
    mode: 'walk',
    width: 64,
    height: 64,
    durationMs: 1000,
    files,
    nsfw: verdict,
  };
  const still = await sharp(frames[0]!.data, { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
  const data: DeliverJobData = {
    v: 1,
    kind: 'result',
    jobId,
    member: { scope: { kind: 'slack', id: fake.teamId }, userId: 'UALICE' },
    origin: { platform: 'slack', teamId: fake.teamId, channelId: channel, userId: 'UALICE' },
    request: {
      mode: 'txt2img',
      prompt: 'a pulsing grey square',
      negativePrompt: '',
      model: 'tiny',
      width: 64,
      height: 64,
      steps: 4,
      guidance: 5,
      sampler: 'euler',
      seed: 42,
      count: 1,
      video: { frames: 8, fps: 8, loop: true, mode: 'walk' },
    },
    result: {
      v: 1,
      images: [
        {
          artifactId: await artifacts.put(still, { contentType: 'image/png', jobId }),
          width: 64,
          height: 64,
          bytes: still.length,
          seed: 42,
          nsfw: verdict,
        },
      ],
      video: clip,
      seed: 42,
      model: 'tiny',
      provider: 'cpu',
      truncatedWords: [],
      timings: { loadMs: 1, renderMs: 10, totalMs: 12 },
    },
  };
  return { data, channel, parentTs: parent.ts as string };
}

describe('clips on Slack', () => {
  it('uploads the clip into the thread once (MP4 where ffmpeg made one, else GIF), with only Reroll', async () => {
    const { data, channel, parentTs } = await clipJob(false);
    await delivery.deliver(data);
    await delivery.deliver(data);
    const thread = fake.thread(channel, parentTs);
    const uploaded = thread.flatMap((m) => m.files);
    expect(uploaded).toHaveLength(1);
    const file = uploaded[0]!;
    expect(file.title).toBe('🎞️ walk · 8 frames at 8 fps (1 s), looping');
    if (ffmpegVersion() !== undefined) {
      expect(file.filename).toBe('easel-42-clip.mp4');
      expect(file.bytes?.subarray(4, 8).toString('latin1')).toBe('ftyp');
    } else {
      console.warn('ffmpeg is not installed: the clip is checked as GIF, not as MP4');
      expect(file.filename).toBe('easel-42-clip.gif');
      const meta = await sharp(file.bytes!, { animated: true }).metadata();
      expect(meta.pages).toBe(8);
    }
    const buttons = JSON.stringify(thread.map((m) => m.blocks)).match(/"text":"(U\d|V\d|Reroll)"/g);
    expect(buttons).toEqual(['"text":"Reroll"']);
  });

  it('uploads nothing of a flagged clip where the policy blocks it', async () => {
    const { data, channel, parentTs } = await clipJob(true);
    await delivery.deliver(data);
    const thread = fake.thread(channel, parentTs);
    expect(thread.flatMap((m) => m.files)).toEqual([]);
    expect(JSON.stringify(thread.map((m) => m.blocks))).toContain(
      'flagged by the safety checker and left out',
    );
  });
});
