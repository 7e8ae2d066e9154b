import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';

/** A prompt the model cannot draw is queued as usual, and the member is told privately why it will look random. */
let h: SlackHarness;
beforeAll(async () => {
  h = await startSlackHarness({ name: 'slack-hint', render: true });
  h.services.registry.models.find((m) => m.id === 'tiny')!.vocabulary = {
    shapes: ['circle', 'square'],
    colours: ['red', 'blue'],
    example: 'a red circle',
  };
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('/imagine with a prompt the model has no word for', () => {
  it('posts the status and tells the member privately which words the model knows', async () => {
    const answer = await h.command(
      { userId: 'UCAROL', channelId: 'C0ART' },
      '/imagine',
      'a lighthouse --seed 3',
    );
    expect(answer.status).toBe(200);
    await h.fake.waitFor(() => h.fake.messages.find((m) => m.text.includes('a lighthouse') && !m.threadTs));
    const hint = await h.fake.waitFor(() =>
      h.fake.responseUrlPosts.find((p) => JSON.stringify(p.body).includes('knows no word')),
    );
    expect((hint.body as { text: string }).text).toContain('"a red circle"');
    expect((hint.body as { response_type?: string }).response_type).toBe('ephemeral');
  });

  it('sends no hint when the prompt has a word the model knows', async () => {
    const before = h.fake.responseUrlPosts.length;
    await h.command({ userId: 'UDAVE', channelId: 'C0ART' }, '/imagine', 'a red circle --seed 4');
    const parent = await h.fake.waitFor(() =>
      h.fake.messages.find((m) => m.text.includes('a red circle') && !m.threadTs),
    );
    // Rendered and delivered: a hint would have been sent long before.
    await h.fake.waitFor(() => h.fake.thread('C0ART', parent.ts).length > 0 || undefined);
    expect(
      h.fake.responseUrlPosts.slice(before).filter((p) => JSON.stringify(p.body).includes('knows no word')),
    ).toEqual([]);
  });
});
