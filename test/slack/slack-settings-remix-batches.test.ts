import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REMIX_BLOCK, REMIX_INPUT_ACTION } from '../../src/platforms/slack/blocks/remix-modal.ts';
import type { FakeMessage } from '../fakes/slack/fake-slack.ts';
import { textValue } from '../fakes/slack/payloads.ts';
import { queuedJobs, type SlackHarness, startSlackHarness } from './support/slack-harness.ts';
import { buttonsOf, resultInThread } from './support/thread-results.ts';

/**
 * Midjourney's everyday features end to end on the fake Slack with the real Bolt app:
 * /imagine-settings (a member's defaults and the workspace's), Remix's modal before V and Reroll,
 * and permutation and --repeat batches behind a private confirmation.
 */
let h: SlackHarness;
const CHANNEL = 'C0000GENERAL';

beforeAll(async () => {
  h = await startSlackHarness({
    name: 'slack-settings',
    render: true,
    env: { DEFAULT_DAILY_ALLOWANCE: '200', DEFAULT_PENDING_CAP: '20', DEFAULT_MODEL: 'tiny' },
  });
  h.fake.addUser({ id: 'UADMIN', teamId: h.fake.teamId, isAdmin: true });
  for (const id of ['UALICE', 'UBOB', 'UDANA', 'UERIN']) h.fake.addUser({ id, teamId: h.fake.teamId });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

/** What the member was told privately last (the response URL, where Slack commands answer). */
async function told(userId: string, command: string, text: string): Promise<string> {
  const posts = h.fake.responseUrlPosts.length;
  await h.command({ userId, channelId: CHANNEL }, command, text);
  const post = await h.fake.waitFor(() => h.fake.responseUrlPosts[posts], 10_000, `an answer to ${command}`);
  return String((post.body as { text: string }).text);
}

/** The parent message of the member's n-th job with this prompt, and its first result. */
async function firstResult(prompt: string) {
  const parent = await h.fake.waitFor(
    () => h.fake.messages.find((m) => m.text.includes(prompt) && !m.threadTs),
    10_000,
    `the status of "${prompt}"`,
  );
  return { parent, result: await resultInThread(h, CHANNEL, parent.ts, 1) };
}

async function jobOf(message: FakeMessage) {
  const jobId = buttonsOf(message)[0]?.actionId.split(':')[2];
  const job = jobId ? await h.services.jobs.get(jobId) : undefined;
  if (!job) throw new Error('no job behind the buttons');
  return job;
}

describe('/imagine-settings on Slack', () => {
  it("applies a member's settings, then the workspace's, to what /imagine leaves out", async () => {
    const saved = await told('UALICE', '/imagine-settings', 'set --ar 16:9 --n 2 --steps 3');
    expect(saved).toContain('Saved your aspect, count, steps');
    await h.command({ userId: 'UALICE', channelId: CHANNEL }, '/imagine', 'a red circle settled');
    const { result } = await firstResult('a red circle settled');
    const job = await jobOf(result.buttons);
    expect(job.data.request).toMatchObject({ count: 2, steps: 3 });
    expect(job.data.request.width).toBeGreaterThan(job.data.request.height);
    expect(buttonsOf(result.buttons).map((b) => b.label)).toEqual(['U1', 'U2', 'Reroll', 'V1', 'V2']);

    // The workspace's defaults are for its admins; they fill what a member's settings leave out.
    expect(await told('UBOB', '/imagine-settings', 'workspace --n 4')).toMatch(
      /Only this workspace's admins change everyone's defaults; you can change your own/,
    );
    expect(await told('UADMIN', '/imagine-settings', 'workspace --n 3 --steps 2')).toContain(
      "Saved this workspace's count, steps",
    );
    await h.command({ userId: 'UBOB', channelId: CHANNEL }, '/imagine', 'a blue square defaulted');
    const bobs = await firstResult('a blue square defaulted');
    expect((await jobOf(bobs.result.buttons)).data.request).toMatchObject({ count: 3, steps: 2 });

    expect(await told('UALICE', '/imagine-settings', 'reset')).toMatch(/count: 3 \(this workspace's\)/);
    await told('UADMIN', '/imagine-settings', 'workspace reset');
  }, 90_000);

  it('refuses a bad setting or stray words, naming them, and saves nothing', async () => {
    const bad = await told('UBOB', '/imagine-settings', 'set --steps 3 --sampler nope --remix maybe');
    expect(bad).toMatch(/--sampler/);
    expect(bad).toMatch(/--remix: expected one of on, off, got "maybe"/);
    expect(await told('UBOB', '/imagine-settings', 'blue please')).toMatch(/"blue please" is not a setting/);
    // Words quoted back are text on Slack: no @channel, no link.
    expect(await told('UBOB', '/imagine-settings', '<!channel> now')).toMatch(
      /^"&lt;!channel&gt; now" is not a setting/,
    );
    const shown = await told('UBOB', '/imagine-settings', '');
    expect(shown).toMatch(/steps: default/);
    expect(shown).toMatch(/remix: off \(default\)/);
  });
});

describe('Remix on Slack', () => {
  it('opens a modal holding the prompt before V1 and Reroll, and renders the edited prompt', async () => {
    await told('UDANA', '/imagine-settings', '--remix on --steps 2');
    await h.command({ userId: 'UDANA', channelId: CHANNEL }, '/imagine', 'a remixed circle --n 2');
    const { parent, result } = await firstResult('a remixed circle');
    let n = 1;
    for (const label of ['V1', 'Reroll']) {
      const button = buttonsOf(result.buttons).find((b) => b.label === label)!;
      const opens = h.fake.callsTo('views.open').length;
      const jobs = await queuedJobs(h.services);
      await h.press({
        userId: 'UDANA',
        channelId: CHANNEL,
        messageTs: result.buttons.ts,
        threadTs: parent.ts,
        actionId: button.actionId,
      });
      const open = await h.fake.waitFor(() => h.fake.callsTo('views.open')[opens]);
      const view = open.args.view as {
        callback_id: string;
        private_metadata: string;
        blocks: { element: { initial_value: string } }[];
      };
      expect(view.blocks[0]?.element.initial_value).toBe('a remixed circle');
      expect(await queuedJobs(h.services)).toBe(jobs);

      // An empty prompt keeps the modal open with the error beside the field.
      const empty = await h.submit({
        userId: 'UDANA',
        callbackId: view.callback_id,
        privateMetadata: view.private_metadata,
        values: { [REMIX_BLOCK]: { [REMIX_INPUT_ACTION]: textValue('  ') } },
      });
      expect(empty.json).toMatchObject({ response_action: 'errors' });
      expect(await queuedJobs(h.services)).toBe(jobs);

      await h.submit({
        userId: 'UDANA',
        callbackId: view.callback_id,
        privateMetadata: view.private_metadata,
        values: { [REMIX_BLOCK]: { [REMIX_INPUT_ACTION]: textValue(`a green square, ${label}`) } },
      });
      n += 1;
      const remixed = await resultInThread(h, CHANNEL, parent.ts, n);
      expect((await jobOf(remixed.buttons)).data.request.prompt).toBe(`a green square, ${label}`);
    }
  }, 90_000);
});

describe('permutations and --repeat on Slack', () => {
  it('asks privately with the count and total cost, then queues every job with its own message', async () => {
    await told('UERIN', '/imagine-settings', '--steps 2');
    const before = await queuedJobs(h.services);
    const asked = h.fake.responseUrlPosts.length;
    await h.command({ userId: 'UERIN', channelId: CHANNEL }, '/imagine', 'a {red, blue} batch --repeat 2');
    const confirmation = await h.fake.waitFor(() => h.fake.responseUrlPosts[asked]);
    const body = confirmation.body as { text: string; response_type: string; blocks: unknown[] };
    expect(body.response_type).toBe('ephemeral');
    const shown = JSON.stringify(body.blocks);
    expect(shown).toMatch(/This makes 4 jobs for \d+ credits? in all/);
    expect(shown).toContain('a red batch');
    expect(await queuedJobs(h.services)).toBe(before);
    const buttons = buttonsOf({ blocks: body.blocks } as FakeMessage);
    expect(buttons.map((b) => b.label)).toEqual(['Queue them', 'Cancel']);

    const answer = (label: string) =>
      h.press({
        userId: 'UERIN',
        channelId: CHANNEL,
        messageTs: '1.000001',
        actionId: buttons.find((b) => b.label === label)!.actionId,
      });
    await answer('Queue them');
    const summary = await h.fake.waitFor(
      () =>
        h.fake.responseUrlPosts
          .map((p) => p.body as { text?: string; replace_original?: boolean })
          .find((b) => /Queued all 4 jobs/.test(b.text ?? '')),
      20_000,
      'the summary',
    );
    expect(summary.replace_original).toBe(true);
    const parents = h.fake.messages.filter((m) => /a (red|blue) batch/.test(m.text) && !m.threadTs);
    expect(parents).toHaveLength(4);
    const prompts: string[] = [];
    for (const parent of parents) {
      const result = await resultInThread(h, CHANNEL, parent.ts, 1);
      prompts.push((await jobOf(result.buttons)).data.request.prompt);
    }
    expect(prompts.sort()).toEqual(['a blue batch', 'a blue batch', 'a red batch', 'a red batch']);
    expect(await queuedJobs(h.services)).toBe(before + 4);

    // Answered once: a second press (or Cancel now) finds nothing to run.
    const posts = h.fake.responseUrlPosts.length;
    await answer('Cancel');
    const late = await h.fake.waitFor(() => h.fake.responseUrlPosts[posts]);
    expect(String((late.body as { text: string }).text)).toMatch(/expired or was already answered/);
    expect(await queuedJobs(h.services)).toBe(before + 4);
  }, 120_000);

  it('queues nothing when the member cancels, and refuses more than eight jobs', async () => {
    const before = await queuedJobs(h.services);
    const asked = h.fake.responseUrlPosts.length;
    await h.command({ userId: 'UERIN', channelId: CHANNEL }, '/imagine', 'a {red, blue} dropped');
    const confirmation = await h.fake.waitFor(() => h.fake.responseUrlPosts[asked]);
    const buttons = buttonsOf({ blocks: (confirmation.body as { blocks: unknown[] }).blocks } as FakeMessage);
    const posts = h.fake.responseUrlPosts.length;
    await h.press({
      userId: 'UERIN',
      channelId: CHANNEL,
      messageTs: '1.000002',
      actionId: buttons.find((b) => b.label === 'Cancel')!.actionId,
    });
    const dropped = await h.fake.waitFor(() => h.fake.responseUrlPosts[posts]);
    expect(String((dropped.body as { text: string }).text)).toMatch(/Cancelled; nothing was queued/);
    expect(await queuedJobs(h.services)).toBe(before);

    expect(await told('UERIN', '/imagine', 'a {a, b, c} {d, e, f} --repeat 1')).toMatch(
      /make 9 prompts; at most 8/,
    );
    expect(await told('UERIN', '/imagine', 'a {a, b, c} cat --repeat 3')).toMatch(/make 9 jobs; at most 8/);
    expect(await queuedJobs(h.services)).toBe(before);
  });
});
