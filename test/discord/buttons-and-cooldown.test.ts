import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { member } from '../fakes/discord/interactions.ts';
import { answerOf, imagesIn, imagine, labels, press, resultOf, statusOf } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

/**
 * The cooldown spaces a member's new prompts; the buttons under a finished result are not new
 * prompts. With a 30-second cooldown and the 30-second duplicate filter on, as a member meets them.
 */
let world: DiscordWorld;
beforeAll(async () => {
  world = await discordWorld('discord-cooldown', {
    env: { DEFAULT_COOLDOWN_S: '30', DUPLICATE_WINDOW_S: '30' },
  });
});
afterAll(async () => {
  await world?.close();
});

describe('buttons and the cooldown on Discord', () => {
  it('accepts U1 pressed right after the result lands, and Reroll twice, while a new prompt waits', async () => {
    const alice = member('alice');
    const sent = await imagine(world, alice, {
      prompt: 'a red circle on a blue background',
      count: 4,
      seed: 42,
    });
    const queued = await statusOf(world, sent, /Queued|Rendering|Done/);
    const grid = await imagesIn(world, queued.id);
    expect(labels(grid)).toContain('U1');
    const thread = world.fake.channels.get(queued.id)!;

    const u1 = await press(world, alice, grid, 'U1', thread);
    const upscaled = await resultOf(world, u1);
    expect(upscaled.attachments).toHaveLength(1);

    const first = await press(world, alice, grid, 'Reroll', thread);
    expect((await resultOf(world, first)).attachments.length).toBeGreaterThan(0);
    const second = await press(world, alice, grid, 'Reroll', thread);
    expect((await resultOf(world, second)).attachments.length).toBeGreaterThan(0);

    // The buttons did not restart the cooldown, which still holds for a new prompt.
    const again = await imagine(world, alice, { prompt: 'a green square on a white background' });
    const answer = await answerOf(world, again);
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toMatch(/cooldown/i);
  }, 90_000);
});
