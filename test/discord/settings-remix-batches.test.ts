import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeMessage } from '../fakes/discord/fake-discord.ts';
import {
  buttonsOf,
  type CommandOption,
  type FakeMember,
  MEMBER_PERMISSIONS,
  member,
  OPT,
  PERMISSION_MANAGE_GUILD,
} from '../fakes/discord/interactions.ts';
import {
  answerOf,
  command,
  imagesIn,
  imagine,
  jobCount,
  labels,
  press,
  resultOf,
  statusOf,
  submitModal,
} from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

/**
 * Midjourney's everyday features end to end on the fake Discord with the real discord.js client:
 * /settings (a member's defaults and the server's), Remix's modal before V and Reroll, and
 * permutation and --repeat batches behind a private confirmation.
 */
let world: DiscordWorld;
beforeAll(async () => {
  world = await discordWorld('discord-settings');
});
afterAll(async () => {
  await world?.close();
});

const admin = member('admin', { permissions: MEMBER_PERMISSIONS | PERMISSION_MANAGE_GUILD });

function settings(user: FakeMember, sub: string, values: Record<string, string | number | boolean> = {}) {
  const types: Record<string, number> = { count: OPT.INTEGER, steps: OPT.INTEGER, guidance: OPT.NUMBER };
  const options: CommandOption[] = Object.entries(values).map(([name, value]) => ({
    name,
    type: typeof value === 'boolean' ? OPT.BOOLEAN : (types[name] ?? OPT.STRING),
    value,
  }));
  return answerOf(world, command(world, user, 'settings', [{ name: sub, type: OPT.SUB_COMMAND, options }]));
}

/** The job a result's buttons act on (every button id carries it). */
async function jobOf(message: FakeMessage) {
  const jobId = buttonsOf(message)[0]?.customId.split(':')[2];
  const job = jobId ? await world.services.jobs.get(jobId) : undefined;
  if (!job) throw new Error('no job behind the buttons');
  return job;
}

describe('/settings on Discord', () => {
  it("applies a member's settings, then the server's, to what /imagine leaves out; reset goes back", async () => {
    const alice = member('alice');
    const saved = await settings(alice, 'set', { aspect: '16:9', count: 2, steps: 3 });
    expect(saved.ephemeral).toBe(true);
    expect(saved.content).toContain('Saved your aspect, count, steps');
    expect(saved.content).toMatch(/aspect: 16:9 \(yours\)/);

    const sent = await imagine(world, alice, { prompt: 'a red circle on a blue background' });
    const status = await statusOf(world, sent, /Queued|Rendering|Done/);
    const grid = await imagesIn(world, status.id);
    expect(labels(grid)).toEqual(['U1', 'U2', 'Reroll', 'V1', 'V2']);
    const job = await jobOf(grid);
    expect(job.data.request).toMatchObject({ count: 2, steps: 3 });
    expect(job.data.request.width).toBeGreaterThan(job.data.request.height);

    // What the member types still wins over their settings.
    const typed = await imagine(world, alice, { prompt: 'a red circle', count: 1, aspect: '1:1' });
    const one = await imagesIn(world, (await statusOf(world, typed, /Queued|Rendering|Done/)).id);
    expect((await jobOf(one)).data.request).toMatchObject({ count: 1, steps: 3 });
    expect(labels(one)).toEqual(['U1', 'Reroll', 'V1']);

    // The server's defaults are for admins to set; they fill what the member's settings leave out.
    const refused = await settings(alice, 'server', { count: 4 });
    expect(refused.content).toMatch(
      /Only this server's admins change everyone's defaults; you can change your own/,
    );
    const server = await settings(admin, 'server', { count: 3, steps: 2 });
    expect(server.content).toContain("Saved this server's count, steps");
    const bob = member('bob');
    const bobs = await imagine(world, bob, { prompt: 'a blue square' });
    const bobGrid = await imagesIn(world, (await statusOf(world, bobs, /Queued|Rendering|Done/)).id);
    expect((await jobOf(bobGrid)).data.request).toMatchObject({ count: 3, steps: 2 });

    const reset = await settings(alice, 'reset');
    expect(reset.content).toMatch(/count: 3 \(this server's\)/);
    await settings(admin, 'server-reset');
  }, 90_000);

  it('refuses a bad setting, naming it, and saves nothing', async () => {
    const carol = member('carol');
    const answer = await settings(carol, 'set', { model: 'no-such-model', steps: 3 });
    expect(answer.ephemeral).toBe(true);
    expect(answer.content).toMatch(/model/);
    const shown = await settings(carol, 'show');
    expect(shown.content).toMatch(/steps: default/);
    expect(shown.content).toMatch(/model: default/);
  });
});

describe('Remix on Discord', () => {
  it('opens a modal holding the prompt before V1 and Reroll, and renders the edited prompt', async () => {
    const dana = member('dana');
    await settings(dana, 'set', { remix: true, steps: 2 });
    const sent = await imagine(world, dana, { prompt: 'a red circle', count: 2, seed: 5 });
    const status = await statusOf(world, sent, /Queued|Rendering|Done/);
    const grid = await imagesIn(world, status.id);
    const thread = world.fake.channels.get(status.id)!;
    const before = await jobCount(world);

    for (const label of ['V1', 'Reroll']) {
      const pressed = await press(world, dana, grid, label, thread);
      const modal = (await world.fake.firstCallback(pressed.id)).json as {
        type: number;
        data: { custom_id: string; title: string; components: { components: { value?: string }[] }[] };
      };
      expect(modal.type).toBe(9);
      expect(modal.data.title).toMatch(/^Remix/);
      expect(modal.data.components[0]?.components[0]?.value).toBe('a red circle');
      // Opening the modal queued nothing.
      expect(await jobCount(world)).toBe(before + (label === 'V1' ? 0 : 1));
      const submitted = await submitModal(
        world,
        dana,
        thread,
        modal.data.custom_id,
        { prompt: `a green square, ${label}` },
        grid,
      );
      const result = await resultOf(world, submitted);
      expect(result.content).toContain(`a green square, ${label}`);
      expect((await jobOf(result)).data.request.prompt).toBe(`a green square, ${label}`);
    }

    // Remix off: V1 runs at once, with the prompt as it was.
    await settings(dana, 'set', { remix: false });
    const direct = await press(world, dana, grid, 'V1', thread);
    expect(((await world.fake.firstCallback(direct.id)).json as { type: number }).type).not.toBe(9);
    const varied = await resultOf(world, direct);
    expect((await jobOf(varied)).data.request.prompt).toBe('a red circle');
  }, 90_000);
});

describe('permutations and --repeat on Discord', () => {
  it('asks privately with the count and total cost, then queues every job with its own status', async () => {
    const erin = member('erin');
    await settings(erin, 'set', { steps: 2 });
    const before = await jobCount(world);
    const sent = await imagine(world, erin, { prompt: 'a {red, blue} circle --repeat 2' });
    const confirm = await answerOf(world, sent);
    expect(confirm.ephemeral).toBe(true);
    expect(confirm.content).toMatch(/This makes 4 jobs for \d+ credits? in all/);
    expect(confirm.content).toContain('a red circle');
    expect(confirm.content).toContain('a blue circle');
    // Nothing queued or charged before the answer.
    expect(await jobCount(world)).toBe(before);

    const message = world.fake.originalOf(sent.id)!;
    expect(labels(message)).toEqual(['Queue them', 'Cancel']);
    // As a client that still shows the old buttons would send them again.
    const stale = structuredClone(message);
    const yes = await press(world, erin, message, 'Queue them');
    const statuses = await world.fake.waitUntil(() => {
      const found = world.fake
        .messagesIn(world.channel.id)
        .filter((m) => m.interactionId === yes.id && m.via === 'followup');
      return found.length === 4 ? found : undefined;
    }, 20_000);
    const prompts: string[] = [];
    const seeds = new Set<number>();
    for (const status of statuses) {
      const grid = await imagesIn(world, status.id);
      const job = await jobOf(grid);
      prompts.push(job.data.request.prompt);
      seeds.add(job.data.request.seed);
      // Each status message (a follow-up, not the press's @original) follows its own job to the end.
      await world.fake.waitUntil(() => {
        const m = world.fake.messages.get(status.id);
        return m && /Done/.test(m.content) && m.content.includes(job.data.request.prompt) ? m : undefined;
      });
    }
    expect(prompts.sort()).toEqual(['a blue circle', 'a blue circle', 'a red circle', 'a red circle']);
    expect(seeds.size).toBe(4);
    expect(await jobCount(world)).toBe(before + 4);
    const summary = await world.fake.waitUntil(() => {
      const m = world.fake.messages.get(message.id);
      return m && /Queued all 4 jobs/.test(m.content) ? m : undefined;
    });
    expect(labels(summary)).toEqual([]);

    // The confirmation works once.
    const again = await press(world, erin, stale, 'Queue them');
    expect((await answerOf(world, again)).content).toMatch(/expired or was already answered/);
    expect(await jobCount(world)).toBe(before + 4);
  }, 120_000);

  it('queues nothing when the member cancels, and refuses batches past eight jobs or a bad --repeat', async () => {
    const finn = member('finn');
    const before = await jobCount(world);
    const sent = await imagine(world, finn, { prompt: 'a {red, blue} square' });
    await answerOf(world, sent);
    const message = world.fake.originalOf(sent.id)!;
    const no = await press(world, finn, message, 'Cancel');
    expect((await answerOf(world, no)).content).toMatch(/Cancelled; nothing was queued/);
    expect(await jobCount(world)).toBe(before);

    const nine = await answerOf(world, await imagine(world, finn, { prompt: 'a {a, b, c} {d, e, f} cat' }));
    expect(nine.ephemeral).toBe(true);
    expect(nine.content).toMatch(/make 9 prompts; at most 8/);
    const repeat = await answerOf(world, await imagine(world, finn, { prompt: 'a cat --repeat 5' }));
    expect(repeat.content).toMatch(/--repeat: must be a whole number from 1 to 4/);
    const unclosed = await answerOf(world, await imagine(world, finn, { prompt: 'a {red, blue cat' }));
    expect(unclosed.content).toMatch(/never closed/);
    expect(await jobCount(world)).toBe(before);
  });
});
