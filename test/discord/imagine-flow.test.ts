import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discordScope } from '../../src/platforms/discord/interaction-context.ts';
import { member, slashCommand } from '../fakes/discord/interactions.ts';
import {
  imagesIn,
  imagine,
  imagineOptions,
  labels,
  press,
  resultOf,
  statusOf,
  submitModal,
} from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

let world: DiscordWorld;
beforeAll(async () => {
  world = await discordWorld('discord-flow');
});
afterAll(async () => {
  await world?.close();
});

describe('/imagine end to end', () => {
  it('answers in time, queues, posts the grid in a thread with its buttons, and each button works', async () => {
    const { fake } = world;
    const alice = member('alice');
    const bob = member('bob');
    const scope = discordScope(world.guild.id);

    const sent = await imagine(world, alice, {
      prompt: 'a red circle on a blue background',
      count: 4,
      seed: 7,
    });
    const queued = await statusOf(world, sent, /Queued|Rendering|Done/);
    expect(queued.content).toContain('a red circle on a blue background');
    expect(queued.content).toContain(`<@${alice.id}>`);

    // The thread is started from the status message: its id is the message's.
    const grid = await imagesIn(world, queued.id);
    expect(fake.channels.get(queued.id)?.parent_id).toBe(world.channel.id);
    expect(grid.attachments.map((a) => a.filename)).toEqual(['easel-7-grid.png']);
    expect(labels(grid)).toEqual(['U1', 'U2', 'U3', 'U4', 'Reroll', 'V1', 'V2', 'V3', 'V4']);
    expect(grid.content).toContain('seed 7');
    const done = await statusOf(world, sent, /Done/);
    expect(labels(done)).toEqual([]);
    const aliceAfter = await world.services.credits.balance({ scope, userId: alice.id });

    // U2, pressed by someone else inside the thread: the upscale lands there, charged to them.
    const thread = fake.channels.get(queued.id)!;
    const bobBefore = await world.services.credits.balance({ scope, userId: bob.id });
    const u2 = await press(world, bob, grid, 'U2', thread);
    const upscaled = await resultOf(world, u2);
    expect(upscaled.channel_id).toBe(thread.id);
    expect(upscaled.attachments).toHaveLength(1);
    const meta = await sharp(fake.messages.get(upscaled.id)!.attachments[0]!.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([1024, 1024]);
    expect(labels(upscaled)).toEqual([
      'Vary (Subtle)',
      'Vary (Strong)',
      'Vary (Region)',
      'Inpaint',
      'Zoom Out 1.5x',
      'Zoom Out 2x',
      '⬅️',
      '➡️',
      '⬆️',
      '⬇️',
      'Upscale 2x',
      'Upscale 4x',
    ]);
    const bobAfter = await world.services.credits.balance({ scope, userId: bob.id });
    expect(bobAfter.total).toBeLessThan(bobBefore.total);
    expect((await world.services.credits.balance({ scope, userId: alice.id })).total).toBe(aliceAfter.total);

    // Vary (Strong) under the upscale: a new grid of four in the thread.
    const vary = await press(world, alice, upscaled, 'Vary (Strong)', thread);
    const varied = await resultOf(world, vary);
    expect(varied.content).toMatch(/Vary \(Strong\) of image 1/);
    expect(labels(varied)).toContain('U1');

    // Reroll on the first grid: the same prompt with a new seed.
    const reroll = await press(world, alice, grid, 'Reroll', thread);
    const rerolled = await resultOf(world, reroll);
    expect(rerolled.content).toContain('a red circle on a blue background');
    const rerollSeed = /seed (\d+)/.exec(rerolled.content)?.[1];
    expect(rerollSeed).toBeDefined();
    expect(rerollSeed).not.toBe('7');

    // Inpaint opens a modal (the first answer), and its submission renders the region.
    const inpaint = await press(world, alice, upscaled, 'Inpaint', thread);
    const modal = (await fake.firstCallback(inpaint.id)).json as {
      type: number;
      data: { custom_id: string; title: string };
    };
    expect(modal.type).toBe(9);
    expect(modal.data.title).toBe('Inpaint image 1');
    const submitted = await submitModal(
      world,
      alice,
      thread,
      modal.data.custom_id,
      { prompt: 'a green square', region: 'center' },
      upscaled,
    );
    const inpainted = await resultOf(world, submitted);
    expect(inpainted.content).toContain('Inpaint of image 1');
    expect(inpainted.content).toContain('a green square');
  });

  it('keeps the buttons working after the bot restarts between the result and the press', async () => {
    const { fake } = world;
    const alice = member('alice');
    const sent = await imagine(world, alice, { prompt: 'a circle before the restart', count: 2, seed: 12 });
    const status = await statusOf(world, sent, /Queued|Rendering|Done/);
    const grid = await imagesIn(world, status.id);
    await statusOf(world, sent, /Done/);

    const sessions = fake.identifies.length;
    await world.restartBot();
    expect(fake.identifies.length).toBe(sessions + 1);
    expect(fake.connectedBots).toBe(1);

    const thread = fake.channels.get(status.id)!;
    const u1 = await press(world, member('carol'), grid, 'U1', thread);
    const upscaled = await resultOf(world, u1);
    expect(upscaled.content).toContain('Upscale 2x of image 1');
    expect(upscaled.attachments).toHaveLength(1);
  });

  it('defers for an attached image, then shows the status and renders img2img from it', async () => {
    const { fake } = world;
    const png = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#2a6' } })
      .png()
      .toBuffer();
    const upload = fake.addUpload(world.channel.id, 'start.png', png, 'image/png');
    const sent = fake.dispatchInteraction(
      slashCommand({
        fake,
        channel: world.channel,
        user: member('dora'),
        name: 'imagine',
        options: imagineOptions({ prompt: 'the same, in red', image: upload.id, strength: 0.6, seed: 77 }),
        attachments: [upload],
      }),
    );
    const first = await fake.firstCallback(sent.id);
    expect(first.json).toMatchObject({ type: 5 });
    expect(first.at - sent.dispatchedAt).toBeLessThan(3000);
    const status = await statusOf(world, sent, /Queued|Rendering|Done/);
    const grid = await imagesIn(world, status.id);
    expect(grid.content).toContain('the same, in red');
    const jobId = /e1:r:(\w+)/.exec(JSON.stringify(grid.components))?.[1];
    const job = await world.services.jobs.get(jobId!);
    expect(job?.data.request).toMatchObject({ mode: 'img2img', strength: 0.6 });
  });
});
