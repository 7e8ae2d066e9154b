import { DiscordAPIError, Events, RateLimitError } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiscordClient, createDiscordRest } from '../../src/platforms/discord/discord-client.ts';
import { registerCommands } from '../../src/platforms/discord/register-commands.ts';
import { SAMPLERS } from '../../src/request/types.ts';
import { FakeDiscord } from '../fakes/discord/fake-discord.ts';
import { member, slashCommand } from '../fakes/discord/interactions.ts';
import { loginToFake } from '../fakes/discord/start-bot-client.ts';

describe('the real discord.js against the fake Discord', () => {
  let fake: FakeDiscord;
  beforeAll(async () => {
    fake = await new FakeDiscord().start();
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('logs in through GET /gateway/bot and asks only for the Guilds intent', async () => {
    const guild = fake.addGuild();
    fake.addChannel(guild.id, { name: 'art' });
    const client = createDiscordClient(fake.apiBase);
    await loginToFake(client, fake);
    try {
      expect(fake.callsTo('GET /gateway/bot')).toHaveLength(1);
      expect(fake.identifies.at(-1)).toEqual({ token: fake.botToken, intents: 1 });
      expect(client.guilds.cache.get(guild.id)?.channels.cache.find((c) => c.name === 'art')).toBeDefined();
    } finally {
      await client.destroy();
    }
  });

  it('registers every command with one bulk overwrite, guild or global', async () => {
    const guild = fake.addGuild();
    const options = { token: fake.botToken, applicationId: fake.applicationId, apiBase: fake.apiBase };
    const inGuild = await registerCommands({ ...options, guildId: guild.id });
    const global = await registerCommands(options);
    expect(inGuild.map((c) => c.name)).toEqual(['imagine', 'credits', 'quota', 'settings']);
    expect(global).toHaveLength(4);
    expect(fake.callsTo('PUT /applications/:id/guilds/:id/commands')).toHaveLength(1);
    expect(fake.callsTo('PUT /applications/:id/commands')).toHaveLength(1);

    const commands = fake.commands.get(guild.id) as {
      name: string;
      default_member_permissions?: string | null;
      options: { name: string; type: number; autocomplete?: boolean; choices?: unknown[] }[];
    }[];
    const [imagine, , quota, settings] = commands;
    expect(imagine!.options.map((o) => o.name)).toEqual([
      'prompt',
      'negative',
      'aspect',
      'seed',
      'steps',
      'guidance',
      'sampler',
      'model',
      'count',
      'image',
      'strength',
      'lora',
      'hires',
      'clipskip',
      'repeat',
      'video',
      'to',
      'motion',
      'fps',
      'duration',
      'loop',
    ]);
    expect(imagine!.options.find((o) => o.name === 'model')?.autocomplete).toBe(true);
    expect(imagine!.options.find((o) => o.name === 'loop')?.type).toBe(5);
    expect(imagine!.options.find((o) => o.name === 'motion')?.choices).toHaveLength(3);
    expect(imagine!.options.find((o) => o.name === 'lora')?.autocomplete).toBe(true);
    expect(imagine!.options.find((o) => o.name === 'image')?.type).toBe(11);
    expect(imagine!.options.find((o) => o.name === 'aspect')?.choices).toHaveLength(9);
    // Every sampler is a choice, within Discord's 25 choices an option may have.
    const samplers = imagine!.options.find((o) => o.name === 'sampler')?.choices;
    expect(samplers).toHaveLength(SAMPLERS.length);
    expect(SAMPLERS.length).toBeLessThanOrEqual(25);
    // /settings: its options come from commands/settings.ts, the same on set and server.
    const sub = (name: string) =>
      (settings!.options.find((o) => o.name === name) as unknown as { options: { name: string }[] }).options;
    expect(settings!.options.map((o) => o.name)).toEqual(['show', 'set', 'reset', 'server', 'server-reset']);
    const settingNames = ['model', 'aspect', 'count', 'sampler', 'steps', 'guidance', 'negative', 'remix'];
    expect(sub('set').map((o) => o.name)).toEqual(settingNames);
    expect(sub('server').map((o) => o.name)).toEqual(settingNames);
    // Manage Guild (1 << 5): hidden from members who lack it.
    expect(quota!.default_member_permissions).toBe('32');
    expect(quota!.options.map((o) => o.name)).toEqual([
      'show',
      'set',
      'remove-tier',
      'grant',
      'nsfw',
      'banned-words',
      'suspend',
      'unsuspend',
    ]);
  });

  it('refuses to register with a wrong token', async () => {
    await expect(
      registerCommands({ token: 'wrong', applicationId: fake.applicationId, apiBase: fake.apiBase }),
    ).rejects.toBeInstanceOf(DiscordAPIError);
  });

  it('waits out one 429 and posts once', async () => {
    const guild = fake.addGuild();
    const channel = fake.addChannel(guild.id);
    const rest = createDiscordRest(fake.apiBase, fake.botToken);
    fake.rateLimitNext('POST /channels/:id/messages', 0.3);
    const started = Date.now();
    await rest.post(`/channels/${channel.id}/messages`, { body: { content: 'hello' } });
    const calls = fake.calls.filter((c) => c.path === `/channels/${channel.id}/messages`);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(fake.messagesIn(channel.id)).toHaveLength(1);
  });

  it('gives up on a second 429 for the same request instead of looping', async () => {
    const guild = fake.addGuild();
    const channel = fake.addChannel(guild.id);
    const rest = createDiscordRest(fake.apiBase, fake.botToken);
    fake.rateLimitNext('POST /channels/:id/messages', 0.1, 5);
    await expect(
      rest.post(`/channels/${channel.id}/messages`, { body: { content: 'hi' } }),
    ).rejects.toBeInstanceOf(RateLimitError);
    const calls = fake.calls.filter((c) => c.path === `/channels/${channel.id}/messages`);
    expect(calls.map((c) => c.status)).toEqual([429, 429]);
    expect(fake.messagesIn(channel.id)).toHaveLength(0);
    fake.clearFailures();
  });

  it('enforces the 3-second first response and a single acknowledgement', async () => {
    const guild = fake.addGuild();
    const channel = fake.addChannel(guild.id);
    const client = createDiscordClient(fake.apiBase);
    const outcomes: unknown[] = [];
    client.on(Events.InteractionCreate, async (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      await interaction.deferReply();
      outcomes.push(await interaction.deferReply().catch((e: DiscordAPIError) => e.code));
    });
    await loginToFake(client, fake);
    try {
      const sent = fake.dispatchInteraction(
        slashCommand({ fake, channel, user: member('ann'), name: 'imagine', options: [] }),
      );
      const first = await fake.firstCallback(sent.id);
      expect(first.status).toBe(204);
      await fake.waitUntil(() => outcomes.length > 0);
      // discord.js itself refuses a second reply before sending it.
      expect(outcomes[0]).toBeDefined();
    } finally {
      await client.destroy();
    }
  });
});
