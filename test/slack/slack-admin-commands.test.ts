import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuedJobs, type SlackHarness, startSlackHarness } from './support/slack-harness.ts';

/**
 * `/imagine-admin` and `/imagine-credits`: who may change a workspace's quotas (Slack admins and
 * owners through users.info, or SLACK_ADMINS), what a refusal looks like, and that changes take
 * effect for the next request.
 */
let h: SlackHarness;

beforeAll(async () => {
  h = await startSlackHarness({ name: 'slack-admin', env: { SLACK_ADMINS: 'UCONFIGURED' } });
  h.fake.addUser({ id: 'UADMIN', teamId: h.fake.teamId, isAdmin: true });
  h.fake.addUser({ id: 'UOWNER', teamId: h.fake.teamId, isOwner: true });
  h.fake.addUser({ id: 'UMEMBER', teamId: h.fake.teamId });
  h.fake.addUser({ id: 'UCONFIGURED', teamId: h.fake.teamId });
  h.fake.addUser({ id: 'UFOREIGN', teamId: 'TELSEWHERE', isAdmin: true });
});

afterAll(async () => {
  await h?.close();
});

const scope = () => ({ kind: 'slack' as const, id: h.fake.teamId });

async function answerTo(userId: string, command: string, text: string): Promise<string> {
  const posts = h.fake.responseUrlPosts.length;
  const answer = await h.command({ userId }, command, text);
  expect(answer.status).toBe(200);
  await h.fake.waitFor(() => h.fake.responseUrlPosts.length > posts);
  const body = h.fake.responseUrlPosts.at(-1)?.body as { text: string; response_type: string };
  expect(body.response_type).toBe('ephemeral');
  return body.text;
}

describe('/imagine-admin', () => {
  it('refuses a member who is not a workspace admin, and changes nothing', async () => {
    const before = await h.services.quotas.get(scope());
    for (const text of ['set allowance 500', 'show', 'grant <@UMEMBER> 100', 'suspend <@UADMIN>']) {
      const reply = await answerTo('UMEMBER', '/imagine-admin', text);
      expect(reply).toBe(
        "Only this workspace's admins (its admins and owners, or members listed in SLACK_ADMINS) can use /imagine-admin.",
      );
    }
    expect(await h.services.quotas.get(scope())).toEqual(before);
    expect(h.fake.callsTo('users.info').some((c) => c.args.user === 'UMEMBER')).toBe(true);
  });

  it('refuses an admin of another workspace', async () => {
    const reply = await answerTo('UFOREIGN', '/imagine-admin', 'set allowance 500');
    expect(reply).toBe(
      "Only this workspace's admins (its admins and owners, or members listed in SLACK_ADMINS) can use /imagine-admin.",
    );
    expect((await h.services.quotas.get(scope())).dailyAllowance).not.toBe(500);
  });

  it('lets a workspace admin set the allowance, which the next request sees', async () => {
    const reply = await answerTo('UADMIN', '/imagine-admin', 'set allowance 7');
    expect(reply).toContain('Set allowance to 7');
    expect(reply).toContain('daily allowance 7 credits');
    expect((await h.services.quotas.get(scope())).dailyAllowance).toBe(7);
    const credits = await answerTo('UMEMBER', '/imagine-credits', '');
    expect(credits).toContain("You have 7 credits: 7 of today's 7 allowance");
  });

  it('lets an owner and a member listed in SLACK_ADMINS in too', async () => {
    expect(await answerTo('UOWNER', '/imagine-admin', 'set cooldown 0')).toContain('Set cooldown to 0');
    expect(await answerTo('UOWNER', '/imagine-admin', 'set max-size 1024')).toContain(
      'largest image 1,048,576 pixels',
    );
    expect(await answerTo('UCONFIGURED', '/imagine-admin', 'show')).toContain(
      'Quota policy of this workspace',
    );
  });

  it('names the field and its range for a bad value, and changes nothing', async () => {
    const before = await h.services.quotas.get(scope());
    expect(await answerTo('UADMIN', '/imagine-admin', 'set allowance lots')).toContain(
      'allowance: expected a whole number',
    );
    const negative = await answerTo('UADMIN', '/imagine-admin', 'set allowance -5');
    expect(negative).toMatch(/allowance/i);
    expect(negative).toMatch(/0/);
    expect(await answerTo('UADMIN', '/imagine-admin', 'nsfw sometimes')).toContain(
      'block, spoiler, allow-in-nsfw-channels',
    );
    expect(await h.services.quotas.get(scope())).toEqual(before);
  });

  it('quotes what the admin typed as text: no mention, no link, in the parser and in the policy check', async () => {
    const before = await h.services.quotas.get(scope());
    const setting = await answerTo('UADMIN', '/imagine-admin', 'set <!channel> 5');
    expect(setting).toContain('unknown setting "&lt;!channel&gt;"');
    expect(setting).not.toContain('<!channel>');
    // A banned word with no letter is refused by the quota store, field by field, in Slack's markup.
    const word = await answerTo('UADMIN', '/imagine-admin', 'ban <>&');
    expect(word).toBe(
      'bannedWords: each entry must have 1 to 100 characters with at least one letter or digit (got "&lt;&gt;&amp;")',
    );
    expect(await h.services.quotas.get(scope())).toEqual(before);
  });

  it('grants credits to a member, who sees them', async () => {
    const reply = await answerTo('UADMIN', '/imagine-admin', 'grant <@UMEMBER|member> 5 contest prize');
    expect(reply).toContain('Granted 5 credits to <@UMEMBER>');
    const credits = await answerTo('UMEMBER', '/imagine-credits', '');
    expect(credits).toContain("You have 12 credits: 7 of today's 7 allowance + 5 granted");
    expect(credits).toContain('+5 granted');
    expect(credits).toContain('contest prize');
  });

  it('suspends a member, whose next /imagine is refused privately with no job', async () => {
    expect(await answerTo('UADMIN', '/imagine-admin', 'suspend <@UMEMBER>')).toContain('is suspended');
    const before = await queuedJobs(h.services);
    const refusal = await answerTo('UMEMBER', '/imagine', 'a red circle');
    expect(refusal).toMatch(/suspended/i);
    expect(await queuedJobs(h.services)).toBe(before);
    expect(await answerTo('UADMIN', '/imagine-admin', 'unsuspend <@UMEMBER>')).toContain(
      'no longer suspended',
    );
  });

  it('marks the current channel for NSFW images', async () => {
    const reply = await answerTo('UADMIN', '/imagine-admin', 'nsfw-channel on');
    expect(reply).toContain('<#C0000GENERAL> is marked');
    expect(await h.slack.deps.nsfwChannels.isMarked(h.fake.teamId, 'C0000GENERAL')).toBe(true);
    expect(await answerTo('UADMIN', '/imagine-admin', 'show')).toContain(
      'channels marked for NSFW images: <#C0000GENERAL>',
    );
  });
});
