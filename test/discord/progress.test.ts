import { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { member } from '../fakes/discord/interactions.ts';
import { answerOf, imagine } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

let world: DiscordWorld;
beforeAll(async () => {
  // No worker: the test plays the worker's progress reports itself.
  world = await discordWorld('discord-progress', { generate: false });
});
afterAll(async () => {
  await world?.close();
});

describe('progress on the status message', () => {
  it('edits the status at most once every 3 seconds, and never after the job ended', async () => {
    const { fake } = world;
    const sent = await imagine(world, member('patient'), { prompt: 'a slow circle', steps: 20 });
    const answer = await answerOf(world, sent);
    const jobId = /e1:x:(\w+)/.exec(JSON.stringify(answer.components))?.[1];
    const job = await Job.fromId(world.services.queues.generate, jobId!);
    const edits = () =>
      fake.calls.filter(
        (c) => c.route === 'PATCH /webhooks/:id/:token/messages/:id' && c.path.includes(sent.token),
      );

    for (let step = 1; step <= 6; step++) {
      await job!.updateProgress({ step, total: 20 });
      await new Promise((r) => setTimeout(r, 150));
    }
    await fake.waitUntil(() => edits().length >= 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(edits()).toHaveLength(1);
    expect((edits()[0]!.json as { content: string }).content).toMatch(/🎨 Rendering, step \d\/20/);

    await new Promise((r) => setTimeout(r, 3000));
    await job!.updateProgress({ step: 15, total: 20 });
    await fake.waitUntil(() => edits().length >= 2);
    expect((edits()[1]!.json as { content: string }).content).toContain('step 15/20 (75%)');
    expect(edits()[1]!.at - edits()[0]!.at).toBeGreaterThanOrEqual(3000);

    // Ended (delivered, failed or cancelled): a late report does not set it back to "rendering".
    await world.replies.markFinal(jobId!);
    await new Promise((r) => setTimeout(r, 3000));
    await job!.updateProgress({ step: 19, total: 20 });
    await new Promise((r) => setTimeout(r, 500));
    expect(edits()).toHaveLength(2);
  });
});
