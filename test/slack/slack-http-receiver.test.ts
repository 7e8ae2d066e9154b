import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slashCommand } from '../fakes/slack/payloads.ts';
import { formBody, interactiveBody, postSigned, signature } from '../fakes/slack/signed-request.ts';
import { queuedJobs, SIGNING_SECRET, type SlackHarness, startSlackHarness } from './support/slack-harness.ts';

/**
 * The real Bolt HTTP receiver with real `v0` signatures: what a request from Slack gets, what a
 * forged or replayed one gets, and that refusals leave nothing behind.
 */
let h: SlackHarness;

beforeAll(async () => {
  h = await startSlackHarness({
    name: 'slack-http',
    env: { DEFAULT_DAILY_ALLOWANCE: '3', DEFAULT_PENDING_CAP: '10' },
  });
});

afterAll(async () => {
  await h?.close();
});

const lastEphemeral = () => h.fake.responseUrlPosts.at(-1)?.body as { text?: string; response_type?: string };

describe('Slack HTTP receiver', () => {
  it('acknowledges /imagine at once, then posts the parent message with cost, position, ETA and Cancel', async () => {
    const answer = await h.command(
      { userId: 'UALICE' },
      '/imagine',
      'a red circle on a blue background --seed 42',
    );
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(3000);

    const parent = await h.fake.waitFor(() => h.fake.messages.find((m) => m.text.includes('a red circle')));
    expect(parent.threadTs).toBeUndefined();
    const shown = JSON.stringify(parent.blocks);
    expect(shown).toContain('<@UALICE>');
    expect(shown).toContain('1 credit');
    expect(shown).toContain('seed 42');
    expect(shown).toMatch(/next in the queue|position \d+ in the queue/);
    expect(shown).toContain('"text":"Cancel"');
    expect(await queuedJobs(h.services)).toBe(1);
  });

  it('treats the same request delivered twice as one job with one parent message', async () => {
    const before = await queuedJobs(h.services);
    const body = formBody(slashCommand(h.fake, { userId: 'UFRANK' }, '/imagine', 'a twice-sent star'));
    const [first, second] = await Promise.all([
      postSigned(h.eventsUrl, SIGNING_SECRET, body),
      postSigned(h.eventsUrl, SIGNING_SECRET, body),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    await h.fake.waitFor(() => h.fake.messages.some((m) => m.text.includes('twice-sent star')));
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.messages.filter((m) => m.text.includes('twice-sent star'))).toHaveLength(1);
    expect(await queuedJobs(h.services)).toBe(before + 1);
  });

  it('answers a bad signature with 401 and queues nothing', async () => {
    const before = await queuedJobs(h.services);
    const messages = h.fake.messages.length;
    const body = formBody(slashCommand(h.fake, { userId: 'UMALLORY' }, '/imagine', 'a forged cat'));
    const answer = await postSigned(h.eventsUrl, SIGNING_SECRET, body, { signature: `v0=${'0'.repeat(64)}` });
    expect(answer.status).toBe(401);
    const wrongSecret = await postSigned(h.eventsUrl, 'not-the-secret', body);
    expect(wrongSecret.status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(await queuedJobs(h.services)).toBe(before);
    expect(h.fake.messages.length).toBe(messages);
  });

  it('refuses a replayed request whose timestamp is more than 5 minutes old, even correctly signed', async () => {
    const before = await queuedJobs(h.services);
    const body = formBody(slashCommand(h.fake, { userId: 'UALICE' }, '/imagine', 'a replayed square'));
    const old = Math.floor(Date.now() / 1000) - 6 * 60;
    expect(signature(SIGNING_SECRET, old, body)).toMatch(/^v0=[0-9a-f]{64}$/);
    const answer = await postSigned(h.eventsUrl, SIGNING_SECRET, body, { timestamp: old });
    expect(answer.status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(await queuedJobs(h.services)).toBe(before);
  });

  it('answers a malformed interactive payload with 400 and queues nothing', async () => {
    const before = await queuedJobs(h.services);
    const answer = await postSigned(h.eventsUrl, SIGNING_SECRET, formBody({ payload: '{not json' }));
    expect(answer.status).toBe(400);
    expect(await queuedJobs(h.services)).toBe(before);
  });

  it('tells the member what is wrong with a slash command missing its user, and queues nothing', async () => {
    const before = await queuedJobs(h.services);
    const fields = slashCommand(h.fake, { userId: 'UALICE' }, '/imagine', 'a triangle');
    fields.user_id = '';
    const answer = await postSigned(h.eventsUrl, SIGNING_SECRET, formBody(fields));
    expect(answer.status).toBe(200);
    await h.fake.waitFor(() => lastEphemeral()?.text?.includes('malformed'));
    expect(lastEphemeral().text).toContain('user_id');
    expect(await queuedJobs(h.services)).toBe(before);
  });

  it('refuses bad flags privately, naming the field and range, with no job and no message', async () => {
    const before = await queuedJobs(h.services);
    const messages = h.fake.messages.length;
    await h.command({ userId: 'UBOB' }, '/imagine', 'a cat --n 9 --cfg 25');
    const refusal = await h.fake.waitFor(() => {
      const text = lastEphemeral()?.text;
      return text?.includes('--n') ? lastEphemeral() : undefined;
    });
    expect(refusal.response_type).toBe('ephemeral');
    expect(refusal.text).toMatch(/--n: .*1.*4/);
    expect(refusal.text).toMatch(/--cfg: .*0.*20/);
    expect(await queuedJobs(h.services)).toBe(before);
    expect(h.fake.messages.length).toBe(messages);
    const balance = await h.services.credits.balance({
      scope: { kind: 'slack', id: h.fake.teamId },
      userId: 'UBOB',
    });
    expect(balance.total).toBe(3);
  });

  it('refuses a member out of credits privately, leaving the balance and queue unchanged', async () => {
    const member = { scope: { kind: 'slack' as const, id: h.fake.teamId }, userId: 'UCAROL' };
    for (const shape of ['circle', 'square', 'triangle']) {
      await h.command({ userId: 'UCAROL' }, '/imagine', `a green ${shape}`);
    }
    await h.fake.waitFor(
      () => h.fake.messages.filter((m) => JSON.stringify(m.blocks).includes('UCAROL')).length === 3,
    );
    const jobs = await queuedJobs(h.services);
    expect((await h.services.credits.balance(member)).total).toBe(0);
    const posts = h.fake.responseUrlPosts.length;
    await h.command({ userId: 'UCAROL' }, '/imagine', 'a yellow square');
    await h.fake.waitFor(() => h.fake.responseUrlPosts.length > posts);
    expect(lastEphemeral().text).toMatch(/credit/i);
    expect(await queuedJobs(h.services)).toBe(jobs);
    expect((await h.services.credits.balance(member)).total).toBe(0);
  });

  it('answers an unknown button id privately and queues nothing', async () => {
    const before = await queuedJobs(h.services);
    const posts = h.fake.responseUrlPosts.length;
    const answer = await h.press({ userId: 'UALICE', messageTs: '1.000001', actionId: 'delete_everything' });
    expect(answer.status).toBe(200);
    await h.fake.waitFor(() => h.fake.responseUrlPosts.length > posts);
    expect(lastEphemeral().text).toContain('not one easel knows');
    expect(await queuedJobs(h.services)).toBe(before);
  });

  it('refuses a button naming a job of another workspace, and queues nothing', async () => {
    const parent = h.fake.messages.find((m) => m.text.includes('a red circle'));
    const cancel = JSON.stringify(parent?.blocks).match(/"action_id":"(e1:x:[^"]+)"/)?.[1];
    expect(cancel).toBeDefined();
    const jobId = cancel?.split(':')[2] as string;
    const before = await queuedJobs(h.services);
    const posts = h.fake.responseUrlPosts.length;
    await h.press({
      userId: 'UEVE',
      teamId: 'TOTHERTEAM',
      messageTs: parent?.ts as string,
      actionId: `e1:u2:${jobId}:0`,
    });
    await h.fake.waitFor(() => h.fake.responseUrlPosts.length > posts);
    expect(lastEphemeral().text).toContain('another workspace');
    expect(await queuedJobs(h.services)).toBe(before);
    const view = await h.services.jobs.get(jobId);
    expect(view?.state).toBe('waiting');
  });

  it('lets the owner cancel a queued job: refunded, and the parent message says so', async () => {
    const parent = h.fake.messages.find((m) => m.text.includes('a red circle'));
    const cancel = JSON.stringify(parent?.blocks).match(/"action_id":"(e1:x:[^"]+)"/)?.[1] as string;
    const member = { scope: { kind: 'slack' as const, id: h.fake.teamId }, userId: 'UALICE' };
    const before = (await h.services.credits.balance(member)).total;
    await h.press({ userId: 'UALICE', messageTs: parent?.ts as string, actionId: cancel });
    await h.fake.waitFor(() => JSON.stringify(parent?.blocks).includes('Cancelled by <@UALICE>'));
    expect(JSON.stringify(parent?.blocks)).not.toContain('"text":"Cancel"');
    expect((await h.services.credits.balance(member)).total).toBe(before + 1);
  });

  it('edits the parent with render progress, at most once every 3 seconds', async () => {
    await h.command({ userId: 'UDAVE' }, '/imagine', 'a slow orange hexagon');
    const parent = await h.fake.waitFor(() => h.fake.messages.find((m) => m.text.includes('orange hexagon')));
    const cancel = JSON.stringify(parent.blocks).match(/"action_id":"(e1:x:[^"]+)"/)?.[1] as string;
    const job = await h.services.queues.generate.getJob(cancel.split(':')[2] as string);
    // A render reporting a step every 250 ms for 4 seconds, as the worker does through BullMQ.
    for (let step = 1; step <= 16; step++) {
      await job?.updateProgress({ step, total: 16 });
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 300));
    const edits = h.fake
      .callsTo('chat.update')
      .filter((c) => c.args.ts === parent.ts && JSON.stringify(c.args.blocks).includes('Rendering'));
    expect(edits.length).toBeGreaterThanOrEqual(1);
    expect(edits.length).toBeLessThanOrEqual(2);
    for (let i = 1; i < edits.length; i++) {
      expect((edits[i]?.at as number) - (edits[i - 1]?.at as number)).toBeGreaterThanOrEqual(2900);
    }
    expect(JSON.stringify(parent.blocks)).toMatch(/step \d+\/16/);
    expect(JSON.stringify(parent.blocks)).toContain('"text":"Cancel"');
  });

  it('refuses /imagine in a channel it was not invited to: job cancelled and refunded, member told how to fix it', async () => {
    h.fake.outsideChannels.add('CPRIVATE');
    const erin = { scope: { kind: 'slack' as const, id: h.fake.teamId }, userId: 'UERIN' };
    const posts = h.fake.responseUrlPosts.length;
    await h.command({ userId: 'UERIN', channelId: 'CPRIVATE' }, '/imagine', 'a secret pentagon');
    await h.fake.waitFor(() => h.fake.responseUrlPosts.length > posts);
    expect(lastEphemeral().text).toContain('/invite @easel');
    expect(lastEphemeral().text).toContain('went back to your balance');
    expect(h.fake.messages.some((m) => m.channel === 'CPRIVATE')).toBe(false);
    const balance = await h.services.credits.balance(erin);
    expect(balance.total).toBe(3);
    expect(balance.reserved).toBe(0);
  });

  it('serves a health check', async () => {
    const res = await fetch(h.eventsUrl.replace('/slack/events', '/healthz'));
    expect(res.status).toBe(200);
  });

  it('answers an interactive payload of a kind it does not handle with a clear 400', async () => {
    const answer = await postSigned(
      h.eventsUrl,
      SIGNING_SECRET,
      interactiveBody({ type: 'dialog_submission', team: { id: h.fake.teamId }, user: { id: 'UALICE' } }),
    );
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: 'unrecognized_request' });
  });
});
