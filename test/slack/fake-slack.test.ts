import { webApi } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSlack } from '../fakes/slack/fake-slack.ts';

/**
 * The fake must hold the real client to Slack's contract, or every other Slack test proves
 * nothing: these drive the real `@slack/web-api` WebClient (the one inside Bolt) against it.
 */
let fake: FakeSlack;
let client: webApi.WebClient;

beforeAll(async () => {
  fake = await FakeSlack.start();
  client = new webApi.WebClient(fake.botToken, {
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 2, factor: 1, minTimeout: 10, maxTimeout: 10 },
  });
});

afterAll(async () => {
  await fake.close();
});

describe('fake Slack Web API', () => {
  it('uploads a file into a thread through the three steps files.uploadV2 performs', async () => {
    const parent = await client.chat.postMessage({ channel: 'C1', text: 'parent' });
    const bytes = Buffer.from('89504e470d0a1a0a00000000', 'hex');
    await client.files.uploadV2({
      channel_id: 'C1',
      thread_ts: parent.ts as string,
      file: bytes,
      filename: 'image.png',
      initial_comment: 'here it is',
    });

    const methods = fake.calls.map((c) => c.method);
    const step1 = methods.indexOf('files.getUploadURLExternal');
    expect(step1).toBeGreaterThanOrEqual(0);
    expect(methods.indexOf('upload')).toBeGreaterThan(step1);
    expect(methods.indexOf('files.completeUploadExternal')).toBeGreaterThan(methods.indexOf('upload'));
    expect(fake.callsTo('files.getUploadURLExternal')[0]?.args).toMatchObject({
      filename: 'image.png',
      length: String(bytes.length),
    });
    expect(fake.callsTo('files.completeUploadExternal')[0]?.args).toMatchObject({
      channel_id: 'C1',
      thread_ts: parent.ts,
    });

    const [reply] = fake.thread('C1', parent.ts as string);
    expect(reply?.text).toBe('here it is');
    expect(reply?.files[0]?.bytes?.equals(bytes)).toBe(true);
  });

  it('refuses to complete an upload whose bytes never arrived', async () => {
    const { file_id } = await client.files.getUploadURLExternal({ filename: 'x.png', length: 3 });
    await expect(
      client.files.completeUploadExternal({ files: [{ id: file_id as string }], channel_id: 'C1' }),
    ).rejects.toMatchObject({ data: { error: 'file_not_found' } });
  });

  it('answers 429 with Retry-After once, and the client waits before retrying', async () => {
    fake.rateLimitNext('chat.postMessage', 1);
    const started = Date.now();
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'after the limit' });
    expect(posted.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const attempts = fake.calls.filter(
      (c) => c.method === 'chat.postMessage' && c.args.text === 'after the limit',
    );
    expect(attempts.map((a) => a.rateLimited ?? false)).toEqual([true, false]);
  });

  it('rejects a wrong bot token as invalid_auth', async () => {
    const stranger = new webApi.WebClient('xoxb-wrong', { slackApiUrl: fake.apiUrl });
    await expect(stranger.auth.test()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
  });

  it('reports workspace admins and owners through users.info', async () => {
    fake.addUser({ id: 'UADMIN', teamId: fake.teamId, isAdmin: true });
    fake.addUser({ id: 'UOWNER', teamId: fake.teamId, isOwner: true });
    const admin = await client.users.info({ user: 'UADMIN' });
    const owner = await client.users.info({ user: 'UOWNER' });
    expect(admin.user).toMatchObject({ is_admin: true, is_owner: false });
    expect(owner.user).toMatchObject({ is_admin: false, is_owner: true });
    await expect(client.users.info({ user: 'UNOBODY' })).rejects.toMatchObject({
      data: { error: 'user_not_found' },
    });
  });

  it('opens a modal only with a trigger id younger than 3 seconds, once', async () => {
    const view = { type: 'modal' as const, title: { type: 'plain_text' as const, text: 'T' }, blocks: [] };
    const trigger = fake.issueTriggerId();
    await expect(client.views.open({ trigger_id: trigger, view })).resolves.toMatchObject({ ok: true });
    await expect(client.views.open({ trigger_id: trigger, view })).rejects.toMatchObject({
      data: { error: 'invalid_trigger_id' },
    });
  });

  it('serves a response_url at most 5 times', async () => {
    const url = fake.issueResponseUrl();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(url, { method: 'POST', body: JSON.stringify({ text: `n${i}` }) });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
  });
});
