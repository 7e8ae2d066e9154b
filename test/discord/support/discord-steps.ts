import { expect } from 'vitest';
import type { FakeChannel, FakeInteraction, FakeMessage } from '../../fakes/discord/fake-discord.ts';
import {
  buttonPress,
  buttonsOf,
  type CommandOption,
  type FakeMember,
  modalSubmit,
  OPT,
  slashCommand,
} from '../../fakes/discord/interactions.ts';
import type { DiscordWorld } from './discord-world.ts';

/** `/imagine` options as Discord types them. */
export function imagineOptions(values: Record<string, string | number | boolean>): CommandOption[] {
  const types: Record<string, number> = {
    prompt: OPT.STRING,
    negative: OPT.STRING,
    aspect: OPT.STRING,
    sampler: OPT.STRING,
    model: OPT.STRING,
    seed: OPT.INTEGER,
    steps: OPT.INTEGER,
    count: OPT.INTEGER,
    guidance: OPT.NUMBER,
    strength: OPT.NUMBER,
    image: OPT.ATTACHMENT,
    video: OPT.INTEGER,
    fps: OPT.NUMBER,
    duration: OPT.NUMBER,
    loop: OPT.BOOLEAN,
  };
  return Object.entries(values).map(([name, value]) => ({ name, type: types[name] ?? OPT.STRING, value }));
}

export const FIRST_RESPONSE_DEADLINE_MS = 3000;

/** Dispatches `/imagine` and checks the first answer came within Discord's 3 seconds. */
export async function imagine(
  world: DiscordWorld,
  user: FakeMember,
  values: Record<string, string | number | boolean>,
  channel: FakeChannel = world.channel,
): Promise<FakeInteraction> {
  const sent = world.fake.dispatchInteraction(
    slashCommand({ fake: world.fake, channel, user, name: 'imagine', options: imagineOptions(values) }),
  );
  const first = await world.fake.firstCallback(sent.id);
  expect(first.status).toBeLessThan(300);
  expect(first.at - sent.dispatchedAt).toBeLessThan(FIRST_RESPONSE_DEADLINE_MS);
  return sent;
}

export async function press(
  world: DiscordWorld,
  user: FakeMember,
  message: FakeMessage,
  label: string,
  channel?: FakeChannel,
): Promise<FakeInteraction> {
  const button = buttonsOf(message).find((b) => b.label === label);
  if (!button)
    throw new Error(`no ${label} button on the message (has ${buttonsOf(message).map((b) => b.label)})`);
  const where = channel ?? world.fake.channels.get(message.channel_id)!;
  const sent = world.fake.dispatchInteraction(
    buttonPress({ fake: world.fake, channel: where, user, message, customId: button.customId }),
  );
  const first = await world.fake.firstCallback(sent.id);
  expect(first.at - sent.dispatchedAt).toBeLessThan(FIRST_RESPONSE_DEADLINE_MS);
  return sent;
}

export async function submitModal(
  world: DiscordWorld,
  user: FakeMember,
  channel: FakeChannel,
  customId: string,
  fields: Record<string, string>,
  message?: FakeMessage,
): Promise<FakeInteraction> {
  const sent = world.fake.dispatchInteraction(
    modalSubmit({ fake: world.fake, channel, user, customId, fields, ...(message ? { message } : {}) }),
  );
  await world.fake.firstCallback(sent.id);
  return sent;
}

/** The interaction's status message once its text matches. */
export function statusOf(
  world: DiscordWorld,
  interaction: FakeInteraction,
  pattern: RegExp,
  timeoutMs = 20_000,
) {
  return world.fake.waitUntil(() => {
    const message = world.fake.originalOf(interaction.id);
    return message && pattern.test(message.content) ? message : undefined;
  }, timeoutMs);
}

/** The first message in a channel or thread that carries images. */
export function imagesIn(world: DiscordWorld, channelId: string, timeoutMs = 30_000): Promise<FakeMessage> {
  return world.fake.waitUntil(
    () => world.fake.messagesIn(channelId).find((m) => m.attachments.length > 0),
    timeoutMs,
  );
}

/** The status message of a button press turned into its result (files on it). */
export function resultOf(
  world: DiscordWorld,
  interaction: FakeInteraction,
  timeoutMs = 30_000,
): Promise<FakeMessage> {
  return world.fake.waitUntil(() => {
    const message = world.fake.originalOf(interaction.id);
    return message && message.attachments.length > 0 ? message : undefined;
  }, timeoutMs);
}

export function labels(message: FakeMessage): string[] {
  return buttonsOf(message).map((b) => b.label);
}

export interface Answer {
  content: string;
  ephemeral: boolean;
  /** The answer's components (buttons), when public. */
  components: unknown[];
}

/**
 * What the member was told: the first callback's message, or (after a defer) the follow-up or the
 * edited reply.
 */
export function answerOf(world: DiscordWorld, sent: FakeInteraction, timeoutMs = 10_000): Promise<Answer> {
  const { fake } = world;
  return fake.waitUntil(() => {
    const callback = fake.calls.find(
      (c) => c.route === 'POST /interactions/:id/:token/callback' && c.path.split('/')[2] === sent.id,
    );
    const body = callback?.json as {
      type: number;
      data?: { content?: string; flags?: number; components?: unknown[] };
    };
    if (body?.type === 4 || body?.type === 7) {
      return {
        content: body.data?.content ?? '',
        ephemeral: ((body.data?.flags ?? 0) & 64) === 64,
        components: body.data?.components ?? [],
      };
    }
    if (body?.type !== 5) return undefined;
    const followUp = fake.calls.find(
      (c) => c.route === 'POST /webhooks/:id/:token' && c.path.includes(sent.token),
    );
    if (followUp) {
      const json = followUp.json as { content?: string; flags?: number };
      return { content: json.content ?? '', ephemeral: ((json.flags ?? 0) & 64) === 64, components: [] };
    }
    const original = fake.originalOf(sent.id);
    if (original && !original.deleted && original.edits > 0) {
      return { content: original.content, ephemeral: false, components: original.components };
    }
    return undefined;
  }, timeoutMs);
}

/** Dispatches any slash command (options already typed). */
export function command(
  world: DiscordWorld,
  user: FakeMember,
  name: string,
  options: CommandOption[],
  extra: Partial<Parameters<typeof slashCommand>[0]> = {},
): FakeInteraction {
  return world.fake.dispatchInteraction(
    slashCommand({ fake: world.fake, channel: world.channel, user, name, options, ...extra }),
  );
}

/** `/quota <sub> ...` */
export function quota(
  world: DiscordWorld,
  user: FakeMember,
  sub: string,
  options: CommandOption[] = [],
  extra: Partial<Parameters<typeof slashCommand>[0]> = {},
): FakeInteraction {
  return command(world, user, 'quota', [{ name: sub, type: OPT.SUB_COMMAND, options }], extra);
}

/** Every job in the generate queue, whatever its state. */
export async function jobCount(world: DiscordWorld): Promise<number> {
  const counts = await world.services.queues.generate.getJobCounts(
    'wait',
    'prioritized',
    'active',
    'delayed',
    'completed',
    'failed',
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
