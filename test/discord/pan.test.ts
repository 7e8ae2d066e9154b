import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { member } from '../fakes/discord/interactions.ts';
import { imagesIn, imagine, labels, press, resultOf, statusOf } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

let world: DiscordWorld;
beforeAll(async () => {
  world = await discordWorld('discord-pan');
});
afterAll(async () => {
  await world?.close();
});

describe('Pan under an upscaled image', () => {
  it('outpaints one side 1.5x: ➡️ makes a wider grid in the thread, ⬆️ a taller one', async () => {
    const alice = member('alice');
    const sent = await imagine(world, alice, { prompt: 'a red circle on a blue background', seed: 3 });
    const queued = await statusOf(world, sent, /Queued|Rendering|Done/);
    const first = await imagesIn(world, queued.id);
    const thread = world.fake.channels.get(queued.id)!;
    const upscaled = await resultOf(world, await press(world, alice, first, 'U1', thread));
    expect(labels(upscaled)).toEqual(expect.arrayContaining(['⬅️', '➡️', '⬆️', '⬇️']));

    for (const [arrow, size, words] of [
      ['➡️', [768, 512], 'Pan Right of image 1'],
      ['⬆️', [512, 768], 'Pan Up of image 1'],
    ] as const) {
      const panned = await resultOf(world, await press(world, alice, upscaled, arrow, thread));
      expect(panned.content).toContain(words);
      expect(labels(panned)).toContain('U1');
      // A 2x2 grid (with its gutters) of four panned pictures, each of the grown size.
      const grid = await sharp(world.fake.messages.get(panned.id)!.attachments[0]!.bytes).metadata();
      expect(Math.abs((grid.width ?? 0) - size[0] * 2)).toBeLessThanOrEqual(8);
      expect(Math.abs((grid.height ?? 0) - size[1] * 2)).toBeLessThanOrEqual(8);
    }
  }, 90_000);
});
