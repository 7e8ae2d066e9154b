import { readdir } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discordScope } from '../../src/platforms/discord/interaction-context.ts';
import { member, slashCommand } from '../fakes/discord/interactions.ts';
import { answerOf, imagineOptions, jobCount } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

/**
 * An image attached to /imagine is screened before admission like any input. No explicit picture is
 * needed: with the sexy threshold at 0 the built-in classifier flags every picture, so a drawing
 * takes the path an NSFW attachment takes. Under the server's `block` policy (the default) it is
 * refused privately, and nothing is charged, queued or kept.
 */
let world: DiscordWorld;
beforeAll(async () => {
  world = await discordWorld('discord-attachment-screening', { env: { NSFW_SEXY_THRESHOLD: '0' } });
}, 120_000);
afterAll(async () => {
  await world?.close();
});

describe('an attached image flagged as NSFW', () => {
  it('is refused privately under block, charging, queueing and keeping nothing', async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="#fffdf5"/><circle cx="128" cy="128" r="70" fill="#3060c0"/></svg>';
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    const painter = member('painter');
    const scope = discordScope(world.guild.id);
    const balance = async () => (await world.services.credits.balance({ scope, userId: painter.id })).total;
    const files = async () =>
      (await readdir(world.config.ARTIFACTS_DIR, { recursive: true, withFileTypes: true })).filter((e) =>
        e.isFile(),
      ).length;
    const [before, jobs, stored] = [await balance(), await jobCount(world), await files()];

    const upload = world.fake.addUpload(world.channel.id, 'drawing.png', png, 'image/png');
    const sent = world.fake.dispatchInteraction(
      slashCommand({
        fake: world.fake,
        channel: world.channel,
        user: painter,
        name: 'imagine',
        options: imagineOptions({ prompt: 'make it blue', image: upload.id }),
        attachments: [upload],
      }),
    );
    const answer = await answerOf(world, sent, 30_000);
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toMatch(/flagged as NSFW, and NSFW images are blocked here; nothing was charged/);
    expect(await jobCount(world)).toBe(jobs);
    expect(await balance()).toBe(before);
    expect(await files()).toBe(stored);
  }, 60_000);
});
