import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_BUILTINS } from '../../src/engine/engine-settings.ts';
import { ModelStore } from '../../src/engine/model-store.ts';
import { createRenderer } from '../../src/engine/render-job.ts';
import { createLogger } from '../../src/log/logger.ts';
import { discordScope } from '../../src/platforms/discord/interaction-context.ts';
import { startGenerateWorker } from '../../workers/generate.ts';
import { member } from '../fakes/discord/interactions.ts';
import { waitForLine } from '../support/child-process.ts';
import { testRedisUrl } from '../support/redis.ts';
import { answerOf, imagesIn, imagine, statusOf } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

let world: DiscordWorld;
let child: ChildProcess | undefined;

beforeAll(async () => {
  world = await discordWorld('discord-worker-killed', { generate: false });
});
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await world?.close();
});

describe('a generate worker killed in the middle of a Discord job', () => {
  it('still delivers the image, once, and charges it once', async () => {
    const alice = member('alice');
    const scope = discordScope(world.guild.id);
    const sent = await imagine(world, alice, { prompt: 'a circle that survives', seed: 9 });
    const answer = await answerOf(world, sent);
    const jobId = /e1:x:([^"]+)/.exec(JSON.stringify(answer.components))?.[1];
    expect(jobId).toBeDefined();

    child = spawn(process.execPath, ['--import', 'tsx', 'test/discord/fixtures/hanging-tiny-worker.ts'], {
      env: {
        ...process.env,
        TEST_REDIS_URL: testRedisUrl(),
        TEST_PREFIX: world.prefix,
        TEST_MODELS_DIR: world.config.MODELS_DIR,
        TEST_ARTIFACTS_DIR: world.config.ARTIFACTS_DIR,
        TEST_CATALOG: JSON.stringify(world.services.registry),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    expect(await waitForLine(child, /^rendering /)).toBe(`rendering ${jobId}`);
    const exited = new Promise((resolve) => child?.once('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect((await world.services.jobs.get(jobId!))?.state).toBe('active');

    // Another worker (the real renderer on the tiny model) finds the stalled job and renders it.
    const logger = createLogger('silent');
    const catalog = world.services.registry;
    const survivor = await startGenerateWorker({
      redisUrl: testRedisUrl(),
      prefix: world.prefix,
      concurrency: 1,
      logger,
      lockDurationMs: 1000,
      stalledIntervalMs: 300,
      render: createRenderer({
        store: new ModelStore(
          { modelsDir: world.config.MODELS_DIR, providers: ['cpu'], threads: 1, builtin: NO_BUILTINS },
          catalog,
          logger,
        ),
        catalog,
        artifacts: world.artifacts,
        settings: {
          maxPixels: world.config.MAX_PIXELS,
          nsfwScreening: 'on',
          nsfwThreshold: 0.5,
          nsfwjsThresholds: { porn: 0.5, hentai: 0.5, sexy: 0.8 },
        },
      }),
    });
    try {
      const status = await statusOf(world, sent, /Queued|Rendering|Done/);
      const grid = await imagesIn(world, status.id, 40_000);
      await statusOf(world, sent, /Done/);
      // Give a duplicate delivery every chance to show up before counting.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const posted = world.fake.messagesIn(status.id).filter((m) => m.attachments.length > 0);
      expect(posted).toEqual([grid]);
    } finally {
      await survivor.close();
    }
    const history = await world.services.credits.history({ scope, userId: alice.id });
    expect(history.filter((e) => e.kind === 'commit' && e.jobId === jobId)).toHaveLength(1);
    expect(history.filter((e) => e.kind === 'refund')).toHaveLength(0);
    expect(await world.services.credits.balance({ scope, userId: alice.id })).toMatchObject({
      total: 99,
      reserved: 0,
    });
  });
});
