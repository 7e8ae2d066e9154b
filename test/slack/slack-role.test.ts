import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startSlackRole } from '../../src/platforms/slack/slack-role.ts';
import { FakeSlack } from '../fakes/slack/fake-slack.ts';
import { slashCommand } from '../fakes/slack/payloads.ts';
import { formBody, postSigned } from '../fakes/slack/signed-request.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

/** The `slack` role as `easel start` runs it: from configuration alone, and stopped cleanly. */
let fake: FakeSlack;

beforeAll(async () => {
  fake = await FakeSlack.start();
});

afterAll(async () => {
  await fake.close();
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('slack role', () => {
  it('serves /imagine on SLACK_PORT from configuration, and stops listening when stopped', async () => {
    const port = await freePort();
    const config = parseConfig({
      LOG_LEVEL: 'silent',
      REDIS_URL: testRedisUrl(),
      QUEUE_PREFIX: uniquePrefix('slack-role'),
      SLACK_ENABLED: 'true',
      SLACK_BOT_TOKEN: fake.botToken,
      SLACK_SIGNING_SECRET: 'role-secret',
      SLACK_API_URL: fake.apiUrl,
      SLACK_PORT: String(port),
    });
    const role = await startSlackRole({ config, logger: createLogger('silent') });
    expect(role.name).toBe('slack');
    const url = `http://127.0.0.1:${port}/slack/events`;
    const body = formBody(slashCommand(fake, { userId: 'UROLE' }, '/imagine', 'a role-played circle'));
    expect((await postSigned(url, 'role-secret', body)).status).toBe(200);
    await fake.waitFor(() => fake.messages.find((m) => m.text.includes('a role-played circle')));
    await role.stop();
    await expect(fetch(url, { method: 'POST' })).rejects.toThrow();
  });

  it('refuses to start with a bot token Slack does not accept', async () => {
    const config = parseConfig({
      LOG_LEVEL: 'silent',
      REDIS_URL: testRedisUrl(),
      QUEUE_PREFIX: uniquePrefix('slack-role-bad'),
      SLACK_ENABLED: 'true',
      SLACK_BOT_TOKEN: 'xoxb-revoked',
      SLACK_SIGNING_SECRET: 'role-secret',
      SLACK_API_URL: fake.apiUrl,
      SLACK_PORT: String(await freePort()),
    });
    await expect(startSlackRole({ config, logger: createLogger('silent') })).rejects.toMatchObject({
      data: { error: 'invalid_auth' },
    });
  });
});
