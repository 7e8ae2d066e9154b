import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';
import { resultInThread } from './support/thread-results.ts';

/** Slack rendering a model of another family than SD 1: the tiny SDXL folder as `tiny`. */
let h: SlackHarness;
const CHANNEL = 'C0000GENERAL';

beforeAll(async () => {
  h = await startSlackHarness({ name: 'slack-sdxl', render: true, family: 'sdxl' });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('/imagine on an SDXL model', () => {
  it('posts the rendered picture in the thread', async () => {
    const answer = await h.command(
      { userId: 'UALICE', channelId: CHANNEL },
      '/imagine',
      'a blue square --seed 12',
    );
    expect(answer.status).toBe(200);
    const parent = await h.fake.waitFor(() =>
      h.fake.messages.find((m) => m.text.includes('a blue square') && !m.threadTs),
    );
    const first = await resultInThread(h, CHANNEL, parent.ts, 1);
    const meta = await sharp(first.image.files[0]?.bytes as Buffer).metadata();
    expect([meta.format, meta.width]).toEqual(['png', 512]);
  });
});
