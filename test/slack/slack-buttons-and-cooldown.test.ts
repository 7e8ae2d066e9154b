import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';
import { buttonsOf, resultInThread } from './support/thread-results.ts';

/**
 * The cooldown spaces a member's new prompts; the buttons under a finished result are not new
 * prompts, and Reroll is never refused as a duplicate. With a 30-second cooldown and the 30-second
 * duplicate filter on, as a member meets them.
 */
let h: SlackHarness;
const CHANNEL = 'C0000GENERAL';

beforeAll(async () => {
  h = await startSlackHarness({
    name: 'slack-cooldown',
    render: true,
    env: {
      DEFAULT_DAILY_ALLOWANCE: '50',
      DEFAULT_PENDING_CAP: '10',
      DEFAULT_COOLDOWN_S: '30',
      DUPLICATE_WINDOW_S: '30',
    },
  });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

/** The n-th result in the thread of the channel these tests use. */
const result = (threadTs: string, n: number) => resultInThread(h, CHANNEL, threadTs, n);

describe('buttons and the cooldown on Slack', () => {
  it('accepts U1 pressed right after the result lands, and Reroll twice within 30 s', async () => {
    await h.command(
      { userId: 'UALICE', channelId: CHANNEL },
      '/imagine',
      'a red circle on a blue background --seed 42',
    );
    const parent = await h.fake.waitFor(() =>
      h.fake.messages.find((m) => m.text.includes('a red circle') && !m.threadTs),
    );
    const first = await result(parent.ts, 1);
    const button = (label: string) => {
      const found = buttonsOf(first.buttons).find((b) => b.label === label);
      if (!found) throw new Error(`no ${label} button`);
      return found.actionId;
    };
    const pressed = (label: string) =>
      h.press({
        userId: 'UALICE',
        channelId: CHANNEL,
        messageTs: first.buttons.ts,
        threadTs: parent.ts,
        actionId: button(label),
      });
    // What the member was told privately, whichever way it went (ephemeral message or response URL).
    const refusals = () => [
      ...h.fake.callsTo('chat.postEphemeral').map((c) => String(c.args.text)),
      ...h.fake.responseUrlPosts.map((p) => String(p.body.text)),
    ];

    await pressed('U1');
    const upscaled = await result(parent.ts, 2);
    await pressed('Reroll');
    await result(parent.ts, 3);
    await pressed('Reroll');
    await result(parent.ts, 4);
    // Pan right under the upscale, also at once: a wider picture in the same thread.
    const pan = buttonsOf(upscaled.buttons).find((b) => b.label === '➡️');
    if (!pan) throw new Error('no Pan right button under the upscale');
    await h.press({
      userId: 'UALICE',
      channelId: CHANNEL,
      messageTs: upscaled.buttons.ts,
      threadTs: parent.ts,
      actionId: pan.actionId,
    });
    const panned = await result(parent.ts, 5);
    const size = await sharp(panned.image.files[0]?.bytes as Buffer).metadata();
    expect(size.width! / size.height!).toBeCloseTo(1.5, 1);
    expect(refusals()).toEqual([]);

    // The buttons did not restart the cooldown, which still holds for a new prompt.
    const again = await h.command(
      { userId: 'UALICE', channelId: CHANNEL },
      '/imagine',
      'a green square on a white background',
    );
    const told = await h.fake.waitFor(
      () => [again.text, ...refusals()].find((text) => /cooldown/i.test(text)),
      10_000,
      'the cooldown refusal',
    );
    expect(told).toMatch(/cooldown/i);
  }, 120_000);
});
