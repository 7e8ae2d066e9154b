import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { member } from '../fakes/discord/interactions.ts';
import { imagesIn, imagine, statusOf } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

/** Discord rendering a model of another family than SD 1: the tiny SDXL folder as `tiny`. */
let world: DiscordWorld;
beforeAll(async () => {
  world = await discordWorld('discord-sdxl', { family: 'sdxl' });
});
afterAll(async () => {
  await world?.close();
});

describe('/imagine on an SDXL model', () => {
  it('posts the grid of its pictures in the thread', async () => {
    const sent = await imagine(world, member('alice'), { prompt: 'a green triangle', count: 2, seed: 21 });
    const queued = await statusOf(world, sent, /Queued|Rendering|Done/);
    const grid = await imagesIn(world, queued.id);
    expect(grid.attachments.map((a) => a.filename)).toEqual(['easel-21-grid.png']);
    const meta = await sharp(world.fake.messages.get(grid.id)!.attachments[0]!.bytes).metadata();
    expect(meta.format).toBe('png');
  });
});
