import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discordScope } from '../../src/platforms/discord/interaction-context.ts';
import type { DeliverJobData, DiscordOrigin, RenderedImage } from '../../src/queue/job-data.ts';
import type { NsfwPolicy } from '../../src/quotas/quota-policy.ts';
import type { FakeChannel } from '../fakes/discord/fake-discord.ts';
import { member, slashCommand } from '../fakes/discord/interactions.ts';
import { snowflake } from '../fakes/discord/snowflake.ts';
import { keysMatching } from '../support/redis.ts';
import {
  answerOf,
  imagesIn,
  imagine,
  imagineOptions,
  labels,
  press,
  statusOf,
} from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

let world: DiscordWorld;
let nsfwChannel: FakeChannel;
const alice = member('alice');
const admin = { member: { scope: { kind: 'discord' as const, id: '' }, userId: 'owner' }, isAdmin: true };

beforeAll(async () => {
  world = await discordWorld('discord-delivery', {
    beforeBot: (fake, guild) => {
      nsfwChannel = fake.addChannel(guild.id, { name: 'after-dark', nsfw: true });
    },
  });
  admin.member.scope.id = world.guild.id;
});
afterAll(async () => {
  await world?.close();
});

async function setNsfwPolicy(policy: NsfwPolicy) {
  await world.services.quotas.set(admin, discordScope(world.guild.id), { nsfw: policy });
}

async function png(noise = false): Promise<Buffer> {
  if (noise) {
    return sharp(randomBytes(512 * 512 * 3), { raw: { width: 512, height: 512, channels: 3 } })
      .png()
      .toBuffer();
  }
  return sharp({ create: { width: 512, height: 512, channels: 3, background: '#c33' } })
    .png()
    .toBuffer();
}

async function image(seed: number, nsfw: boolean | null, noise = false): Promise<RenderedImage> {
  const bytes = await png(noise);
  const artifactId = await world.artifacts.put(bytes, { contentType: 'image/png' });
  return {
    artifactId,
    width: 512,
    height: 512,
    bytes: bytes.length,
    seed,
    nsfw: nsfw === null ? null : { nsfw, score: nsfw ? 0.97 : 0.01 },
  };
}

/** A finished job to deliver into `channel`, as the deliver queue would hand it over. */
function delivery(
  channel: FakeChannel,
  images: RenderedImage[],
  origin: Partial<DiscordOrigin> = {},
): DeliverJobData {
  const age = 20 * 60_000;
  return {
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
      channelId: channel.id,
      inThread: true,
      channelNsfw: channel.nsfw,
      ...origin,
    },
    request: {
      mode: 'txt2img',
      prompt: 'a red square',
      negativePrompt: '',
      model: 'tiny',
      width: 512,
      height: 512,
      steps: 4,
      guidance: 5,
      sampler: 'euler',
      seed: 11,
      count: images.length,
    },
    result: {
      v: 1,
      images,
      seed: 11,
      model: 'tiny',
      provider: 'cpu',
      truncatedWords: [],
      timings: { loadMs: 1, renderMs: 1, totalMs: 2 },
    },
  };
}

function postedIn(channel: FakeChannel) {
  return world.fake.messagesIn(channel.id).filter((m) => m.attachments.length > 0);
}

describe('Discord delivery', () => {
  it('posts with the bot token into the thread when Discord answers 50027 to the webhook edit', async () => {
    const { fake } = world;
    const sent = await imagine(world, alice, { prompt: 'a blue circle', seed: 3 });
    const status = await statusOf(world, sent, /Queued|Rendering|Done/);
    const grid = await imagesIn(world, status.id);
    const thread = fake.channels.get(status.id)!;

    fake.failWebhookEdits();
    const u1 = await press(world, member('bob'), grid, 'U1', thread);
    const upscaled = await fake.waitUntil(
      () =>
        fake
          .messagesIn(thread.id)
          .find((m) => m.via === 'bot' && m.content.includes('Upscale 2x of image 1')),
      30_000,
    );
    fake.clearFailures();
    expect(upscaled.attachments).toHaveLength(1);
    expect(labels(upscaled)).toContain('Vary (Strong)');
    const edits = fake.calls.filter(
      (c) => c.route === 'PATCH /webhooks/:id/:token/messages/:id' && c.path.includes(u1.token),
    );
    expect(edits.length).toBeGreaterThan(0);
    expect(edits.every((c) => c.status === 401 && (c.response as { code: number }).code === 50027)).toBe(
      true,
    );
    // Once, and nowhere else.
    expect(postedIn(thread).filter((m) => m.content.includes('Upscale 2x'))).toHaveLength(1);
  });

  it('waits out a 429 on the thread post and posts once', async () => {
    const { fake } = world;
    fake.rateLimitNext('POST /channels/:id/messages', 1);
    const sent = await imagine(world, alice, { prompt: 'a slow green circle', seed: 4 });
    const status = await statusOf(world, sent, /Queued|Rendering|Done/);
    const grid = await imagesIn(world, status.id);
    const posts = fake.calls.filter((c) => c.path === `/channels/${status.id}/messages`);
    expect(posts.map((c) => c.status)).toEqual([429, 200]);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(postedIn(fake.channels.get(status.id)!)).toEqual([grid]);
  });

  it('uses the bot token when the interaction is older than 14 minutes, in a thread of an age-restricted channel', async () => {
    const { fake } = world;
    const thread = fake.addThread(nsfwChannel.id, 'late night');
    const sent = fake.dispatchInteraction(
      slashCommand({
        fake,
        channel: thread,
        user: alice,
        name: 'imagine',
        options: imagineOptions({ prompt: 'a late purple circle', seed: 5 }),
        age: 14.5 * 60_000,
      }),
    );
    const answer = await answerOf(world, sent);
    const jobId = /e1:x:([^"]+)/.exec(JSON.stringify(answer.components))?.[1];
    expect(jobId).toBeDefined();
    // The thread's own flag is unset; its parent's says age-restricted.
    const job = await world.services.jobs.get(jobId!);
    expect(job?.data.origin).toMatchObject({ inThread: true, channelNsfw: true });

    const result = await fake.waitUntil(() => postedIn(thread)[0], 30_000);
    expect(result.via).toBe('bot');
    expect(result.content).toContain('a late purple circle');
    const tokenUploads = fake.calls.filter((c) => c.path.includes(sent.token) && c.files.length > 0);
    expect(tokenUploads).toHaveLength(0);
  });

  it('never posts a result twice, even when the delivery runs again after its records were lost', async () => {
    const thread = world.fake.addThread(world.channel.id, 'twice');
    const data = delivery(thread, [await image(21, false)]);
    await world.delivery.deliver(data);
    await world.delivery.deliver(data);
    expect(postedIn(thread)).toHaveLength(1);
    // A crash between the post and its record: Discord's nonce still stops a second message.
    const keys = await keysMatching(world.services.redis, `${world.prefix}:delivered:${data.jobId}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await world.services.redis.del(...keys);
    await world.delivery.deliver(data);
    expect(postedIn(thread)).toHaveLength(1);
  });

  it('applies the server’s NSFW policy to each image', async () => {
    const cases: [NsfwPolicy, FakeChannel, string[]][] = [
      ['block', world.channel, ['easel-31-1.png', 'easel-32-2-hidden.png']],
      ['spoiler', world.channel, ['easel-31-1.png', 'SPOILER_easel-32-2.png']],
      ['allow-in-nsfw-channels', world.channel, ['easel-31-1.png', 'easel-32-2-hidden.png']],
      ['allow-in-nsfw-channels', nsfwChannel, ['easel-31-1.png', 'easel-32-2.png']],
    ];
    for (const [policy, parent, names] of cases) {
      await setNsfwPolicy(policy);
      const thread = world.fake.addThread(parent.id, policy);
      await world.delivery.deliver(
        delivery(thread, [await image(31, false), await image(32, true)], { channelNsfw: parent.nsfw }),
      );
      const [posted] = postedIn(thread);
      expect(
        posted?.attachments.map((a) => a.filename),
        `${policy} in ${parent.name}`,
      ).toEqual(names);
      if (names.some((n) => n.includes('hidden'))) {
        expect(posted!.content).toMatch(
          /Image 2 was flagged by the safety checker and replaced by a blank image/,
        );
        const blank = await sharp(posted!.attachments[1]!.bytes).stats();
        expect(blank.isOpaque && blank.channels.every((c) => c.min === c.max)).toBe(true);
      }
      if (policy === 'spoiler') expect(posted!.content).toMatch(/behind a spoiler/);
    }
    await setNsfwPolicy('block');
  });

  it('re-encodes images as WebP to stay within the interaction’s attachment size limit', async () => {
    const thread = world.fake.addThread(world.channel.id, 'small limit');
    const images = [await image(41, false, true), await image(42, false, true)];
    expect(images.every((i) => i.bytes > 150_000)).toBe(true);
    await world.delivery.deliver(delivery(thread, images, { attachmentSizeLimit: 150_000 }));
    const posted = postedIn(thread);
    const files = posted.flatMap((m) => m.attachments);
    expect(files.map((f) => f.filename)).toEqual(['easel-41-1.webp', 'easel-42-2.webp']);
    expect(files.every((f) => f.size <= 150_000)).toBe(true);
    expect(posted[0]!.content).toMatch(/Sent as WebP/);
  });

  it('tells the member privately when their job failed and what was refunded', async () => {
    const { fake } = world;
    // Any interaction gives a live token; the bot answers this one at once.
    const sent = fake.dispatchInteraction(
      slashCommand({ fake, channel: world.channel, user: alice, name: 'noop', options: [] }),
    );
    await answerOf(world, sent);
    const failed: DeliverJobData = {
      ...delivery(world.channel, []),
      kind: 'failure',
      failure: { message: 'The render worker stopped repeatedly while working on this job.', refunded: 2 },
    };
    failed.origin = {
      ...(failed.origin as DiscordOrigin),
      interactionId: sent.id,
      interactionToken: sent.token,
      interactionCreatedAt: Date.now(),
      inThread: false,
    };
    delete failed.result;
    await world.delivery.deliver(failed);
    const notice = await fake.waitForCall(
      (c) => c.route === 'POST /webhooks/:id/:token' && c.path.includes(sent.token),
    );
    expect(notice.json).toMatchObject({
      flags: 64,
      content:
        '❌ Your request "a red square" failed: The render worker stopped repeatedly while working on this job. 2 credits went back to your balance.',
    });

    // Past the token's life: said in the channel, to the member by name, once.
    const late = {
      ...delivery(world.channel, []),
      kind: 'failure' as const,
      failure: { message: 'Out of memory.', refunded: 1 },
    };
    delete late.result;
    await world.delivery.deliver(late);
    await world.delivery.deliver(late);
    const said = fake.messagesIn(world.channel.id).filter((m) => m.content.includes('Out of memory.'));
    expect(said).toHaveLength(1);
    expect(said[0]!.content).toBe(
      `<@${alice.id}> ❌ Your request "a red square" failed: Out of memory. 1 credit went back to your balance.`,
    );
  });
});
