import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../../src/app/services.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createDiscordDeliverer } from '../../src/platforms/discord/discord-deliverer.ts';
import { startDiscordRole } from '../../src/platforms/discord/discord-role.ts';
import { FakeDiscord } from '../fakes/discord/fake-discord.ts';
import { member } from '../fakes/discord/interactions.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { answerOf, imagine } from './support/discord-steps.ts';
import type { DiscordWorld } from './support/discord-world.ts';

const run = promisify(execFile);
let fake: FakeDiscord;
beforeAll(async () => {
  fake = await new FakeDiscord().start();
});
afterAll(async () => {
  await fake.stop();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniquePrefix('discord-roles'),
    LOG_LEVEL: 'silent',
    DISCORD_ENABLED: 'true',
    DISCORD_TOKEN: fake.botToken,
    DISCORD_APPLICATION_ID: fake.applicationId,
    DISCORD_API_BASE: fake.apiBase,
    ...extra,
  };
}

describe('easel register-commands', () => {
  it('registers the commands in one server with one bulk overwrite', async () => {
    const guild = fake.addGuild();
    const { stdout } = await run(
      process.execPath,
      ['bin/easel.js', 'register-commands', '--guild', guild.id],
      {
        env: { ...process.env, ...env() },
      },
    );
    expect(stdout).toContain(
      `Registered 4 commands in server ${guild.id}: /imagine, /credits, /quota, /settings`,
    );
    expect(fake.callsTo('PUT /applications/:id/guilds/:id/commands')).toHaveLength(1);
  });

  it('says clearly what is wrong with a bad server id or token', async () => {
    const badGuild = await run(
      process.execPath,
      ['bin/easel.js', 'register-commands', '--guild', 'general'],
      {
        env: { ...process.env, ...env() },
      },
    ).catch((e: { stderr: string; code: number }) => e);
    expect(badGuild).toMatchObject({ code: 1 });
    expect((badGuild as { stderr: string }).stderr).toContain(
      '--guild: expected a server id (17-20 digits), got "general"',
    );

    const badToken = await run(process.execPath, ['bin/easel.js', 'register-commands'], {
      env: { ...process.env, ...env({ DISCORD_TOKEN: 'not-the-token' }) },
    }).catch((e: { stderr: string; code: number }) => e);
    expect(badToken).toMatchObject({ code: 1 });
    expect((badToken as { stderr: string }).stderr).toMatch(
      /Discord refused the commands: 401: Unauthorized/,
    );
  });
});

describe('the discord role and its deliverer', () => {
  it('starts the bot from configuration, answers /imagine, and stops', async () => {
    const guild = fake.addGuild();
    const channel = fake.addChannel(guild.id);
    const config = parseConfig(env());
    const logger = createLogger('silent');
    const role = await startDiscordRole({ config, logger });
    try {
      expect(role.name).toBe('discord');
      expect(fake.connectedBots).toBe(1);
      const world = { fake, channel } as DiscordWorld;
      const sent = await imagine(world, member('roleplayer'), { prompt: 'a circle from the role' });
      const answer = await answerOf(world, sent);
      expect(answer.content).toMatch(/Queued/);
    } finally {
      await role.stop();
    }
    await fake.waitUntil(() => fake.connectedBots === 0);
  });

  it('refuses to start with a token Discord rejects', async () => {
    const config = parseConfig(env({ DISCORD_TOKEN: 'not-the-token' }));
    await expect(startDiscordRole({ config, logger: createLogger('silent') })).rejects.toThrow(
      /Discord refused DISCORD_TOKEN/,
    );
  });

  it('builds the deliverer the deliver role uses', async () => {
    const config = parseConfig(env());
    const logger = createLogger('silent');
    const services = await createServices(config, logger);
    try {
      const deliverer = await createDiscordDeliverer({ config, logger, services });
      const guild = fake.addGuild();
      const thread = fake.addThread(fake.addChannel(guild.id).id);
      await deliverer.deliver(
        {
          v: 1,
          kind: 'failure',
          jobId: 'groles1',
          member: { scope: { kind: 'discord', id: guild.id }, userId: '42' },
          origin: {
            platform: 'discord',
            applicationId: fake.applicationId,
            interactionId: '1',
            interactionToken: 'dead',
            interactionCreatedAt: 0,
            guildId: guild.id,
            channelId: thread.id,
            inThread: true,
          },
          request: {
            mode: 'txt2img',
            prompt: 'p',
            negativePrompt: '',
            model: 'easel-mini',
            width: 512,
            height: 512,
            steps: 4,
            guidance: 4,
            sampler: 'ddim',
            seed: 1,
            count: 1,
          },
          failure: { message: 'The model is not installed on the render workers.', refunded: 1 },
        },
        { jobId: 'groles1', attempt: 1, logger },
      );
      expect(fake.messagesIn(thread.id).map((m) => m.content)).toEqual([
        '<@42> ❌ Your request "p" failed: The model is not installed on the render workers. 1 credit went back to your balance.',
      ]);
    } finally {
      await services.close();
    }
  });
});
