import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeActionId } from '../../commands/actions.ts';
import { discordScope } from '../../src/platforms/discord/interaction-context.ts';
import type { FakeMember } from '../fakes/discord/interactions.ts';
import {
  autocomplete,
  buttonPress,
  MEMBER_PERMISSIONS,
  member,
  OPT,
  PERMISSION_MANAGE_GUILD,
  slashCommand,
} from '../fakes/discord/interactions.ts';
import { writeTinyLora } from '../support/tiny-loras.ts';
import {
  answerOf,
  command,
  imagineOptions,
  jobCount,
  press,
  quota,
  statusOf,
} from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

let world: DiscordWorld;
const admin = member('admin', { permissions: MEMBER_PERMISSIONS | PERMISSION_MANAGE_GUILD });

beforeAll(async () => {
  // Nothing renders here: refusals happen before any job exists.
  world = await discordWorld('discord-refusals', { generate: false });
});
afterAll(async () => {
  await world?.close();
});

const balanceOf = async (user: FakeMember) =>
  (await world.services.credits.balance({ scope: discordScope(world.guild.id), userId: user.id })).total;

/** Runs `/imagine` and expects a private refusal matching `reason`, with no job and no charge. */
async function expectRefused(user: FakeMember, values: Record<string, string | number>, reason: RegExp) {
  const jobsBefore = await jobCount(world);
  const balanceBefore = await balanceOf(user);
  const sent = world.fake.dispatchInteraction(
    slashCommand({
      fake: world.fake,
      channel: world.channel,
      user,
      name: 'imagine',
      options: imagineOptions(values),
    }),
  );
  const answer = await answerOf(world, sent);
  expect(answer.ephemeral).toBe(true);
  expect(answer.content).toMatch(reason);
  expect(await jobCount(world)).toBe(jobsBefore);
  expect(await balanceOf(user)).toBe(balanceBefore);
  return answer;
}

async function expectAccepted(user: FakeMember, values: Record<string, string | number>) {
  const sent = world.fake.dispatchInteraction(
    slashCommand({
      fake: world.fake,
      channel: world.channel,
      user,
      name: 'imagine',
      options: imagineOptions(values),
    }),
  );
  const answer = await answerOf(world, sent);
  expect(answer.ephemeral).toBe(false);
  expect(answer.content).toMatch(/Queued/);
  return sent;
}

async function adminSays(
  sub: string,
  options: Parameters<typeof quota>[3],
  extra: Parameters<typeof quota>[4] = {},
) {
  const answer = await answerOf(world, quota(world, admin, sub, options, extra));
  expect(answer.ephemeral).toBe(true);
  expect(answer.content).toMatch(/✅/);
  return answer;
}

describe('refusals are private, specific, and leave no job and no charge', () => {
  it('refuses a member who is out of credits', async () => {
    await adminSays('set', [{ name: 'allowance', type: OPT.INTEGER, value: 0 }]);
    const broke = member('broke');
    expect(await balanceOf(broke)).toBe(0);
    await expectRefused(
      broke,
      { prompt: 'a blue square' },
      /Not enough credits: this costs 1 credit and you have 0 credits/,
    );
    // An admin's grant lets them in again.
    await adminSays(
      'grant',
      [
        { name: 'member', type: OPT.USER, value: broke.id },
        { name: 'amount', type: OPT.INTEGER, value: 5 },
      ],
      {
        users: [broke],
      },
    );
    await expectAccepted(broke, { prompt: 'a blue square' });
    expect(await balanceOf(broke)).toBe(4);
    await adminSays('set', [{ name: 'allowance', type: OPT.INTEGER, value: 100 }]);
  });

  it('refuses a second request during the cooldown an admin just set', async () => {
    await adminSays('set', [{ name: 'cooldown', type: OPT.INTEGER, value: 60 }]);
    const eager = member('eager');
    await expectAccepted(eager, { prompt: 'a yellow triangle' });
    await expectRefused(eager, { prompt: 'a green triangle' }, /on cooldown: try again in (59|60) seconds/);
    await adminSays('set', [{ name: 'cooldown', type: OPT.INTEGER, value: 0 }]);
  });

  it('refuses the same prompt again within 30 seconds', async () => {
    const repeat = member('repeat');
    await expectAccepted(repeat, { prompt: 'two purple circles' });
    // The wait is the rest of the 30-second duplicate window.
    await expectRefused(
      repeat,
      { prompt: 'two purple circles' },
      /you just sent this same request; try again in (29|30) seconds/,
    );
  });

  it('refuses a banned word, naming it', async () => {
    await adminSays('banned-words', [{ name: 'add', type: OPT.STRING, value: 'dragon, zombie' }]);
    await expectRefused(member('writer'), { prompt: 'a red dragon' }, /not allowed in this server: "dragon"/);
  });

  it('refuses a suspended member, and not after unsuspending', async () => {
    const troll = member('troll');
    await adminSays('suspend', [{ name: 'member', type: OPT.USER, value: troll.id }], { users: [troll] });
    await expectRefused(
      troll,
      { prompt: 'an orange circle' },
      /suspended from generating images in this server/,
    );
    await adminSays('unsuspend', [{ name: 'member', type: OPT.USER, value: troll.id }], { users: [troll] });
    await expectAccepted(troll, { prompt: 'an orange circle' });
  });

  it('names every bad option at once', async () => {
    await expectRefused(
      member('typo'),
      { prompt: 'a circle --cfg 99', steps: 999 },
      /Please fix:[\s\S]*--cfg[\s\S]*steps/,
    );
  });
});

describe('/quota is for server admins', () => {
  it('refuses /quota set from a member without Manage Guild and leaves the policy as it was', async () => {
    const before = await world.services.quotas.get(discordScope(world.guild.id));
    const answer = await answerOf(
      world,
      quota(world, member('mallory'), 'set', [{ name: 'allowance', type: OPT.INTEGER, value: 9999 }]),
    );
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toBe("⚠️ Only this server's admins (Manage Server) can use /quota.");
    expect((await world.services.quotas.get(discordScope(world.guild.id))).dailyAllowance).toBe(
      before.dailyAllowance,
    );
  });

  it('quotes a banned word the quota store refuses as text, not as Discord markdown', async () => {
    const answer = await answerOf(
      world,
      quota(world, admin, 'banned-words', [{ name: 'add', type: OPT.STRING, value: '**~~||' }]),
    );
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toBe(
      '⚠️ bannedWords: each entry must have 1 to 100 characters with at least one letter or digit (got "\\*\\*\\~\\~\\|\\|")',
    );
  });

  it('applies an admin’s new allowance to the next /imagine', async () => {
    await adminSays('set', [{ name: 'allowance', type: OPT.INTEGER, value: 3 }]);
    const newcomer = member('newcomer');
    const sent = await expectAccepted(newcomer, { prompt: 'a pink hexagon' });
    const status = await statusOf(world, sent, /Queued/);
    expect(status.content).toMatch(/cost 1 credit, 2 left/);
    await adminSays('set', [{ name: 'allowance', type: OPT.INTEGER, value: 100 }]);
  });

  it('gives role tiers their own limits and shows the policy', async () => {
    const role = { id: world.fake.addRole(world.guild.id, 'supporter'), name: 'supporter' };
    await adminSays(
      'set',
      [
        { name: 'role', type: OPT.ROLE, value: role.id },
        { name: 'allowance', type: OPT.INTEGER, value: 500 },
      ],
      {
        roles: [role],
      },
    );
    const shown = await answerOf(world, quota(world, admin, 'show'));
    expect(shown.content).toContain(`<@&${role.id}>: allowance 500`);
    expect(shown.content).toContain('Banned words: `dragon`, `zombie`');
  });
});

describe('malformed interactions get a clear private answer and queue nothing', () => {
  it('answers an unknown command', async () => {
    const jobs = await jobCount(world);
    const answer = await answerOf(world, command(world, member('lost'), 'paint', []));
    expect(answer).toMatchObject({ ephemeral: true });
    expect(answer.content).toMatch(/no \/paint command/);
    expect(await jobCount(world)).toBe(jobs);
  });

  it('answers a button id easel never made, and one with an unknown action', async () => {
    const jobs = await jobCount(world);
    const status = world.fake.messagesIn(world.channel.id).find((m) => m.via === 'interaction')!;
    for (const customId of ['hello', 'e1:zz:g123:0', 'e9:u2:g123:0']) {
      const sent = world.fake.dispatchInteraction(
        buttonPress({
          fake: world.fake,
          channel: world.channel,
          user: member('clicker'),
          message: status,
          customId,
        }),
      );
      const answer = await answerOf(world, sent);
      expect(answer.ephemeral).toBe(true);
      expect(answer.content).toMatch(/button/);
    }
    expect(await jobCount(world)).toBe(jobs);
  });

  it('refuses a button that points at another server’s job', async () => {
    const other = world.fake.addGuild('Elsewhere');
    // A real job of another server, admitted directly.
    const admitted = await world.services.admission.admit({
      requestId: `elsewhere-${Date.now()}`,
      member: { scope: discordScope(other.id), userId: 'someone' },
      origin: { platform: 'cli' },
      request: {
        mode: 'txt2img',
        prompt: 'a secret',
        negativePrompt: '',
        model: 'tiny',
        width: 512,
        height: 512,
        steps: 4,
        guidance: 5,
        sampler: 'euler',
        seed: 5,
        count: 1,
      },
    });
    if (!admitted.accepted) throw new Error(admitted.message);
    const jobs = await jobCount(world);
    const status = world.fake.messagesIn(world.channel.id).find((m) => m.via === 'interaction')!;
    const customId = encodeActionId({ action: 'upscale', jobId: admitted.jobId, index: 0, factor: 2 });
    const sent = world.fake.dispatchInteraction(
      buttonPress({
        fake: world.fake,
        channel: world.channel,
        user: member('snoop'),
        message: status,
        customId,
      }),
    );
    const answer = await answerOf(world, sent);
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toMatch(/That job is gone/);
    expect(await jobCount(world)).toBe(jobs);
  });

  it('refuses an attachment that is not an image and keeps nothing', async () => {
    const files = async () => (await readdir(world.config.ARTIFACTS_DIR, { recursive: true })).length;
    const before = await files();
    const jobs = await jobCount(world);
    const painter = member('painter');
    const balance = await balanceOf(painter);
    for (const [name, bytes, type, reason] of [
      ['notes.txt', Buffer.from('hello'), 'text/plain', /"notes\.txt" is text\/plain, not an image/],
      ['fake.png', Buffer.from('this is not a png at all'), 'image/png', /image.*not an image/i],
    ] as const) {
      const upload = world.fake.addUpload(world.channel.id, name, bytes, type);
      const sent = world.fake.dispatchInteraction(
        slashCommand({
          fake: world.fake,
          channel: world.channel,
          user: painter,
          name: 'imagine',
          options: imagineOptions({ prompt: 'make it blue', image: upload.id }),
          attachments: [upload],
        }),
      );
      const answer = await answerOf(world, sent);
      expect(answer.ephemeral).toBe(true);
      expect(answer.content).toMatch(reason);
      // Deferred (an attachment is slow to fetch), then the public "thinking" message is removed.
      expect(world.fake.originalOf(sent.id)?.deleted).toBe(true);
    }
    expect(await jobCount(world)).toBe(jobs);
    expect(await balanceOf(painter)).toBe(balance);
    expect(await files()).toBe(before);
  });
});

describe('Cancel, autocomplete and /credits', () => {
  it('lets the owner cancel a queued job and refunds it; others may not', async () => {
    const owner = member('owner');
    const before = await balanceOf(owner);
    const sent = await expectAccepted(owner, { prompt: 'a job to cancel' });
    const status = await statusOf(world, sent, /Queued/);
    const jobId = /e1:x:(\w+)/.exec(JSON.stringify(status.components))?.[1];
    expect(await balanceOf(owner)).toBe(before - 1);

    const stranger = await press(world, member('stranger'), status, 'Cancel');
    const refused = await answerOf(world, stranger);
    expect(refused).toMatchObject({ ephemeral: true, content: '⚠️ You can only cancel your own jobs.' });

    const mine = await press(world, owner, status, 'Cancel');
    const cancelled = await answerOf(world, mine);
    expect(cancelled.ephemeral).toBe(false);
    expect(cancelled.content).toContain(`🚫 Cancelled by <@${owner.id}> · 1 credit refunded`);
    expect(cancelled.components).toEqual([]);
    expect(await balanceOf(owner)).toBe(before);
    expect((await world.services.jobs.get(jobId!))?.state).toBe('cancelled');
  });

  it('suggests models from the registry as the member types', async () => {
    const sent = world.fake.dispatchInteraction(
      autocomplete({
        fake: world.fake,
        channel: world.channel,
        user: member('typist'),
        name: 'imagine',
        options: [
          { name: 'prompt', type: OPT.STRING, value: 'a cat' },
          { name: 'model', type: OPT.STRING, value: 'ti', focused: true },
        ],
      }),
    );
    const callback = await world.fake.firstCallback(sent.id);
    expect(callback.json).toEqual({
      type: 8,
      data: { choices: [{ name: 'tiny — tiny test model tiny', value: 'tiny' }] },
    });
  });

  it('suggests installed LoRAs for the last name typed, keeping the ones already picked', async () => {
    writeTinyLora(world.config.MODELS_DIR, 'detail');
    writeTinyLora(world.config.MODELS_DIR, 'dreamy');
    const sent = world.fake.dispatchInteraction(
      autocomplete({
        fake: world.fake,
        channel: world.channel,
        user: member('typist'),
        name: 'imagine',
        options: [
          { name: 'prompt', type: OPT.STRING, value: 'a cat' },
          { name: 'lora', type: OPT.STRING, value: 'detail:0.5, dr', focused: true },
        ],
      }),
    );
    const callback = await world.fake.firstCallback(sent.id);
    expect(callback.json).toEqual({
      type: 8,
      data: { choices: [{ name: 'detail:0.5, dreamy:1', value: 'detail:0.5, dreamy:1' }] },
    });
  });

  it('refuses a LoRA that is not installed before charging anything', async () => {
    await expectRefused(
      member('lora-asker'),
      { prompt: 'a cat', lora: 'nowhere:0.8' },
      /LoRA "nowhere" is not installed on this server \(installed: detail, dreamy\)/,
    );
  });

  it('shows a member their credits privately', async () => {
    const reader = member('reader');
    await expectAccepted(reader, { prompt: 'something to spend on' });
    const answer = await answerOf(world, command(world, reader, 'credits', []));
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toContain("You have 99 credits: 99 of today's 100 allowance.");
    // "3 h 12 min", "3 h", or in the last hour before 00:00 UTC "56 min".
    expect(answer.content).toMatch(/The allowance resets in (\d+ h( \d+ min)?|\d+ min) \(00:00 UTC\)/);
    expect(answer.content).toMatch(/\*\*Pending\*\*\n• \*\*something to spend on\*\* — #\d+ in line/);
    expect(answer.content).toMatch(/\*\*Recent\*\*\n• .* reserved for a job/);
  });
});
