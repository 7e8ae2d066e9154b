import { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusStore } from '../../src/platforms/slack/status-store.ts';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';

/**
 * The status lifecycle on Slack (commands/status-lifecycle.ts, as on Discord): progress edits of
 * the parent message at most once every 3 seconds, none for the last step, none once the job ended.
 * No worker runs: the test plays the worker's progress reports itself.
 */
let h: SlackHarness;
const CHANNEL = 'C0000GENERAL';

beforeAll(async () => {
  h = await startSlackHarness({ name: 'slack-progress' });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('progress on the Slack status message', () => {
  it('edits the status at most once every 3 seconds, skips the last step, and never edits after the end', async () => {
    await h.command({ userId: 'UPAT', channelId: CHANNEL }, '/imagine', 'a slow circle --steps 20');
    const parent = await h.fake.waitFor(() =>
      h.fake.messages.find((m) => m.text.includes('a slow circle') && !m.threadTs),
    );
    const jobId = /"e1:x:(\w+)"/.exec(JSON.stringify(parent.blocks))?.[1];
    expect(jobId).toBeDefined();
    const job = await Job.fromId(h.services.queues.generate, jobId!);
    const edits = () => h.fake.callsTo('chat.update').filter((c) => c.args.ts === parent.ts);

    for (let step = 1; step <= 6; step++) {
      await job!.updateProgress({ step, total: 20 });
      await new Promise((r) => setTimeout(r, 150));
    }
    await h.fake.waitFor(() => edits()[0]);
    await new Promise((r) => setTimeout(r, 500));
    expect(edits()).toHaveLength(1);
    expect(String(edits()[0]!.args.text)).toMatch(/Rendering, step \d\/20/);

    await new Promise((r) => setTimeout(r, 3000));
    await job!.updateProgress({ step: 20, total: 20 });
    await new Promise((r) => setTimeout(r, 500));
    expect(edits()).toHaveLength(1);

    await new StatusStore(h.services.redis, h.prefix).markFinal(jobId!);
    await job!.updateProgress({ step: 19, total: 20 });
    await new Promise((r) => setTimeout(r, 500));
    expect(edits()).toHaveLength(1);
  }, 30_000);
});
