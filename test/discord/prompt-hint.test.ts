import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { member } from '../fakes/discord/interactions.ts';
import { imagine, statusOf } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

/** A prompt the model cannot draw is queued as usual, and the member is told privately why it will look random. */
let world: DiscordWorld;
beforeAll(async () => {
  world = await discordWorld('discord-hint');
  // The tiny model stands in for easel-mini: the same closed vocabulary, on the model the worker has.
  world.services.registry.models[0]!.vocabulary = {
    shapes: ['circle', 'square'],
    colours: ['red', 'blue'],
    example: 'a red circle',
  };
});
afterAll(async () => {
  await world?.close();
});

function privateFollowUps(token: string): { content: string; flags: number }[] {
  return world.fake.calls
    .filter((c) => c.route === 'POST /webhooks/:id/:token' && c.path.includes(token))
    .map((c) => c.json as { content: string; flags: number });
}

describe('/imagine with a prompt the model has no word for', () => {
  it('queues it and tells the member privately which words the model knows', async () => {
    const sent = await imagine(world, member('carol'), { prompt: 'a lighthouse on a cliff', seed: 3 });
    await statusOf(world, sent, /Queued|Rendering|Done/);
    const hint = await world.fake.waitUntil(() => privateFollowUps(sent.token)[0], 10_000);
    expect(hint.content).toContain('tiny knows no word of this prompt');
    expect(hint.content).toContain('"a red circle"');
    expect(hint.flags & 64).toBe(64); // ephemeral
  });

  it('sends no hint when the prompt has a word the model knows', async () => {
    const sent = await imagine(world, member('dave'), { prompt: 'a blue square', seed: 4 });
    await statusOf(world, sent, /Done/, 30_000);
    expect(privateFollowUps(sent.token)).toEqual([]);
  });
});
