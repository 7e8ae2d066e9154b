import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeClip } from '../../src/engine/video/encode-clip.ts';
import { ffmpegVersion } from '../../src/engine/video/ffmpeg.ts';
import { discordScope } from '../../src/platforms/discord/interaction-context.ts';
import type { DeliverJobData, RenderedClip } from '../../src/queue/job-data.ts';
import { member, slashCommand } from '../fakes/discord/interactions.ts';
import { snowflake } from '../fakes/discord/snowflake.ts';
import { answerOf, imagine, imagineOptions, jobCount, labels, statusOf } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

let world: DiscordWorld;
const alice = member('alice');

beforeAll(async () => {
  world = await discordWorld('discord-video');
});
afterAll(async () => {
  await world?.close();
});

/** Frames count of an MP4 as ffprobe reads it (decoding every frame). */
function probeFrames(bytes: Buffer): { codec: string; frames: number; width: number; height: number } {
  const dir = mkdtempSync(join(tmpdir(), 'easel-discord-clip-'));
  try {
    const path = join(dir, 'clip.mp4');
    writeFileSync(path, bytes);
    const out = JSON.parse(
      execFileSync(
        'ffprobe',
        ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_streams', '-of', 'json', path],
        {
          encoding: 'utf8',
        },
      ),
    ) as { streams: { codec_name: string; nb_read_frames: string; width: number; height: number }[] };
    const s = out.streams[0]!;
    return { codec: s.codec_name, frames: Number(s.nb_read_frames), width: s.width, height: s.height };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('clips on Discord', () => {
  it('refuses bad clip options privately, by option name, with no job and no charge', async () => {
    const cases: [Record<string, string | number | boolean>, string][] = [
      [{ prompt: 'a cat', video: 4 }, 'video: must be a whole number of frames from 8 to 48 (got 4)'],
      [
        { prompt: 'a cat', to: 'a dog' },
        'to: only applies to a video: ask for one with its number of frames, or leave to out',
      ],
      [
        { prompt: 'a cat', video: 8, motion: 'drift', loop: true },
        'loop: a drift zooms further with every frame',
      ],
      [{ prompt: 'a cat --video 8', count: 2 }, 'count: a video is one clip; leave count out (got 2)'],
    ];
    for (const [values, reason] of cases) {
      const jobsBefore = await jobCount(world);
      const balance = await world.services.credits.balance({
        scope: discordScope(world.guild.id),
        userId: alice.id,
      });
      const sent = world.fake.dispatchInteraction(
        slashCommand({
          fake: world.fake,
          channel: world.channel,
          user: alice,
          name: 'imagine',
          options: imagineOptions(values),
        }),
      );
      const answer = await answerOf(world, sent);
      expect(answer.ephemeral).toBe(true);
      expect(answer.content).toContain(reason);
      expect(await jobCount(world)).toBe(jobsBefore);
      const after = await world.services.credits.balance({
        scope: discordScope(world.guild.id),
        userId: alice.id,
      });
      expect(after.total).toBe(balance.total);
    }
  });

  it('/imagine video:8 posts one clip with what it is, and only a Reroll button', async () => {
    const sent = await imagine(world, alice, { prompt: 'a blue circle', video: 8, fps: 4, seed: 31 });
    const status = await statusOf(world, sent, /Queued|Rendering|Done/);
    const posted = await world.fake.waitUntil(
      () => world.fake.messagesIn(status.id).find((m) => m.attachments.length > 0),
      60_000,
    );
    expect(posted.attachments).toHaveLength(1);
    const file = posted.attachments[0]!;
    expect(posted.content).toContain('🎞️ walk · 8 frames at 4 fps (2 s)');
    expect(labels(posted)).toEqual(['Reroll']);
    if (ffmpegVersion() !== undefined) {
      expect(file.filename).toBe('easel-31-clip.mp4');
      expect(probeFrames(file.bytes)).toEqual({ codec: 'h264', frames: 8, width: 512, height: 512 });
    } else {
      console.warn('ffmpeg is not installed: the clip is checked as WebP, not as MP4');
      expect(file.filename).toBe('easel-31-clip.webp');
      const meta = await sharp(file.bytes, { animated: true }).metadata();
      expect([meta.pages, meta.width, meta.pageHeight]).toEqual([8, 512, 512]);
    }
  });

  it('re-encodes the clip smaller when no stored file fits the attachment limit', async () => {
    // Noise frames: nothing compresses them, so every format is far over the limit.
    const frames = Array.from({ length: 8 }, () => ({
      data: randomBytes(256 * 256 * 3),
      width: 256,
      height: 256,
    }));
    const encoded = await encodeClip(frames, 8);
    const files = [];
    for (const e of encoded) {
      files.push({
        format: e.format,
        artifactId: await world.artifacts.put(e.bytes, { contentType: e.contentType }),
        contentType: e.contentType,
        bytes: e.bytes.length,
      });
    }
    const limit = 200_000;
    expect(Math.min(...files.map((f) => f.bytes))).toBeGreaterThan(limit);
    const clip: RenderedClip = {
      frames: 8,
      fps: 8,
      loop: false,
      mode: 'walk',
      width: 256,
      height: 256,
      durationMs: 1000,
      files,
      nsfw: null,
    };
    const poster = await sharp(frames[0]!.data, { raw: { width: 256, height: 256, channels: 3 } })
      .png()
      .toBuffer();
    const thread = world.fake.addThread(world.channel.id, 'small files');
    const age = 20 * 60_000;
    const data: DeliverJobData = {
      v: 1,
      kind: 'result',
      jobId: `t${randomBytes(6).toString('hex')}`,
      member: { scope: discordScope(world.guild.id), userId: alice.id },
      origin: {
        platform: 'discord',
        applicationId: world.fake.applicationId,
        interactionId: snowflake(Date.now() - age),
        interactionToken: 'long-dead-token',
        interactionCreatedAt: Date.now() - age,
        guildId: world.guild.id,
        channelId: thread.id,
        inThread: true,
        attachmentSizeLimit: limit,
      },
      request: {
        mode: 'txt2img',
        prompt: 'static',
        negativePrompt: '',
        model: 'tiny',
        width: 256,
        height: 256,
        steps: 4,
        guidance: 5,
        sampler: 'euler',
        seed: 12,
        count: 1,
        video: { frames: 8, fps: 8, loop: false, mode: 'walk' },
      },
      result: {
        v: 1,
        images: [
          {
            artifactId: await world.artifacts.put(poster, { contentType: 'image/png' }),
            width: 256,
            height: 256,
            bytes: poster.length,
            seed: 12,
            nsfw: null,
          },
        ],
        video: clip,
        seed: 12,
        model: 'tiny',
        provider: 'cpu',
        truncatedWords: [],
        timings: { loadMs: 1, renderMs: 1, totalMs: 2 },
      },
    };
    await world.delivery.deliver(data);
    const posted = world.fake.messagesIn(thread.id).find((m) => m.attachments.length > 0)!;
    const file = posted.attachments[0]!;
    expect(file.filename).toBe('easel-12-clip.webp');
    expect(file.size).toBeLessThanOrEqual(limit);
    const meta = await sharp(file.bytes, { animated: true }).metadata();
    expect(meta.pages).toBe(8);
    expect(meta.width).toBeLessThan(256);
    expect(posted.content).toContain('made smaller to fit');
  });
});
