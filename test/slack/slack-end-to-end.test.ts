import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeInpaintMetadata,
  INPAINT_BLOCKS,
  INPAINT_INPUT_ACTION,
} from '../../src/platforms/slack/blocks/inpaint-modal.ts';
import { selectValue, textValue } from '../fakes/slack/payloads.ts';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';
import { type Button, buttonsOf, resultInThread as resultIn } from './support/thread-results.ts';

/**
 * The whole Slack flow with the tiny model, real apart from Slack itself: /imagine -> parent
 * message -> image in its thread with buttons -> U1 -> upscale in the thread -> Inpaint modal ->
 * submission -> inpainted image, each button charged to whoever pressed it.
 */
let h: SlackHarness;
const CHANNEL = 'C0000GENERAL';

beforeAll(async () => {
  h = await startSlackHarness({
    name: 'slack-e2e',
    render: true,
    env: { DEFAULT_DAILY_ALLOWANCE: '50', DEFAULT_PENDING_CAP: '10' },
  });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

const member = (userId: string) => ({ scope: { kind: 'slack' as const, id: h.fake.teamId }, userId });

/** The n-th result in the thread of the channel these tests use. */
const resultInThread = (threadTs: string, n: number) => resultIn(h, CHANNEL, threadTs, n);

describe('Slack end to end with the tiny model', () => {
  let parentTs: string;

  it('runs /imagine -> parent -> image in the thread -> U1 -> upscale -> Inpaint -> inpainted image', async () => {
    // 1. /imagine: acknowledged in time, parent message with cost and Cancel.
    const answer = await h.command(
      { userId: 'UALICE', channelId: CHANNEL },
      '/imagine',
      'a red circle on a blue background --seed 7',
    );
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(3000);
    const parent = await h.fake.waitFor(() =>
      h.fake.messages.find((m) => m.text.includes('a red circle') && !m.threadTs),
    );
    parentTs = parent.ts;

    // 2. The image lands in the parent's thread through the three-step upload, with its buttons.
    const first = await resultInThread(parentTs, 1);
    const file = first.image.files[0];
    expect(file?.bytes).toBeDefined();
    const meta = await sharp(file?.bytes as Buffer).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBe(512);
    const complete = h.fake
      .callsTo('files.completeUploadExternal')
      .find((c) => c.args.thread_ts === parentTs);
    expect(complete?.args.channel_id).toBe(CHANNEL);
    const labels = buttonsOf(first.buttons).map((b) => b.label);
    expect(labels).toEqual(['U1', 'Reroll', 'V1']);
    await h.fake.waitFor(() => JSON.stringify(h.fake.message(CHANNEL, parentTs)?.blocks).includes('Done'));
    expect(buttonsOf(h.fake.message(CHANNEL, parentTs))).toEqual([]);

    // 3. The Slack app restarts (nothing kept in memory); then Bob presses U1: charged to Bob, not
    // to Alice; the upscale lands in the same thread.
    await h.restartApp();
    const aliceBefore = (await h.services.credits.balance(member('UALICE'))).total;
    const bobBefore = (await h.services.credits.balance(member('UBOB'))).total;
    const u1 = buttonsOf(first.buttons).find((b) => b.label === 'U1') as Button;
    await h.press({
      userId: 'UBOB',
      channelId: CHANNEL,
      messageTs: first.buttons.ts,
      threadTs: parentTs,
      actionId: u1.actionId,
    });
    const upscale = await resultInThread(parentTs, 2);
    const upscaled = await sharp(upscale.image.files[0]?.bytes as Buffer).metadata();
    expect(upscaled.width).toBe(1024);
    expect(buttonsOf(upscale.buttons).map((b) => b.label)).toEqual([
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
    expect((await h.services.credits.balance(member('UALICE'))).total).toBe(aliceBefore);
    expect((await h.services.credits.balance(member('UBOB'))).total).toBeLessThan(bobBefore);
    const status = h.fake.thread(CHANNEL, parentTs).find((m) => m.text.includes('Upscale 2x of image 1'));
    expect(JSON.stringify(status?.blocks)).toContain('<@UBOB>');

    // 4. Inpaint opens a modal (within the trigger's 3 seconds) with the prompt and the region.
    const inpaint = buttonsOf(upscale.buttons).find((b) => b.label === 'Inpaint') as Button;
    const opens = h.fake.callsTo('views.open').length;
    await h.press({
      userId: 'UALICE',
      channelId: CHANNEL,
      messageTs: upscale.buttons.ts,
      threadTs: parentTs,
      actionId: inpaint.actionId,
    });
    const open = await h.fake.waitFor(() => h.fake.callsTo('views.open')[opens]);
    const view = open.args.view as { callback_id: string; private_metadata: string; title: { text: string } };
    expect(view.title.text).toBe('Inpaint');
    expect(decodeInpaintMetadata(view.private_metadata)).toMatchObject({
      channelId: CHANNEL,
      threadTs: parentTs,
    });

    // 5. A bad region keeps the modal open with the error beside the field; nothing is queued.
    const jobsBefore = await h.services.queues.generate.getJobCounts();
    const bad = await h.submit({
      userId: 'UALICE',
      callbackId: view.callback_id,
      privateMetadata: view.private_metadata,
      values: {
        [INPAINT_BLOCKS.prompt]: { [INPAINT_INPUT_ACTION]: textValue('a green square') },
        [INPAINT_BLOCKS.preset]: { [INPAINT_INPUT_ACTION]: selectValue('center') },
        [INPAINT_BLOCKS.custom]: { [INPAINT_INPUT_ACTION]: textValue('80,80,50,50') },
      },
    });
    expect(bad.json).toMatchObject({ response_action: 'errors' });
    expect(JSON.stringify(bad.json)).toContain(INPAINT_BLOCKS.custom);
    expect(JSON.stringify(bad.json)).toMatch(/x \+ w must be at most 100/);
    expect(await h.services.queues.generate.getJobCounts()).toEqual(jobsBefore);

    // 6. A good submission closes the modal; the inpainted image lands in the thread.
    const good = await h.submit({
      userId: 'UALICE',
      callbackId: view.callback_id,
      privateMetadata: view.private_metadata,
      values: {
        [INPAINT_BLOCKS.prompt]: { [INPAINT_INPUT_ACTION]: textValue('a green square') },
        [INPAINT_BLOCKS.preset]: { [INPAINT_INPUT_ACTION]: selectValue('center') },
        [INPAINT_BLOCKS.custom]: { [INPAINT_INPUT_ACTION]: textValue('') },
      },
    });
    expect(good.status).toBe(200);
    expect(good.text).toBe('');
    const inpainted = await resultInThread(parentTs, 3);
    expect(inpainted.image.text).toContain('Inpaint');
    expect(inpainted.image.files).toHaveLength(1);
    const labelsAfterInpaint = buttonsOf(inpainted.buttons).map((b) => b.label);
    expect(labelsAfterInpaint).toContain('Reroll');
  }, 120_000);

  it('tells the member privately when a render fails, marks the parent failed and refunds', async () => {
    const carol = member('UCAROL');
    const before = (await h.services.credits.balance(carol)).total;
    const notices = h.fake.callsTo('chat.postEphemeral').length;
    await h.command({ userId: 'UCAROL', channelId: CHANNEL }, '/imagine', 'a blue square --model ghost');
    const parent = await h.fake.waitFor(() => h.fake.messages.find((m) => m.text.includes('a blue square')));
    const notice = await h.fake.waitFor(
      () =>
        h.fake
          .callsTo('chat.postEphemeral')
          .slice(notices)
          .find((c) => c.args.user === 'UCAROL'),
      45_000,
      'the failure notice',
    );
    expect(notice.args.thread_ts).toBe(parent.ts);
    expect(String(notice.args.text)).toMatch(/damaged or incomplete/);
    expect(String(notice.args.text)).toMatch(/went back to your balance|Nothing was charged/);
    await h.fake.waitFor(() => JSON.stringify(h.fake.message(CHANNEL, parent.ts)?.blocks).includes('Failed'));
    expect(h.fake.thread(CHANNEL, parent.ts).flatMap((m) => m.files)).toHaveLength(0);
    expect((await h.services.credits.balance(carol)).total).toBe(before);
  }, 60_000);
});
