import { createServices } from '../src/app/services.ts';
import { parseConfig } from '../src/config/load-config.ts';
import { createLogger } from '../src/log/logger.ts';
import { DiscordBot } from '../src/platforms/discord/discord-bot.ts';
import { BUSY_IN_FLIGHT, DEFAULT_ANSWER_BUDGET_MS } from '../src/platforms/discord/first-response.ts';
import { startPrivateRedis } from '../src/redis/private-redis-server.ts';
import { FakeDiscord, type FakeInteraction } from '../test/fakes/discord/fake-discord.ts';
import { member, OPT, slashCommand } from '../test/fakes/discord/interactions.ts';

/**
 * `npm run bench:discord`: the fake Discord dispatches a burst of BENCH_BURST (500) `/imagine`
 * interactions at once to the real discord.js bot, which admits each into BullMQ on a private
 * redis-server (no worker renders). Figures: dispatch → first callback (the defer, or the status
 * itself when admission answers within the bot's budget), dispatch → the member sees the queued
 * status, and admissions per second. Run twice: the bot's default (answer with the status when
 * admission takes under DEFAULT_ANSWER_BUDGET_MS, else defer) and "always defer first". Fake and bot
 * share one process, as in NOTES.md's discord.js floor measurement. Table, then one JSON line.
 */
const BURST = Number(process.env.BENCH_BURST ?? 500);
const WARMUP = 20;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Figures {
  mode: string;
  firstP50: number;
  firstP99: number;
  firstMax: number;
  deferred: number;
  statusP50: number;
  statusP99: number;
  admissionsPerS: number;
}

const redis = await startPrivateRedis();
const fake = await new FakeDiscord().start();
const guild = fake.addGuild('Bench');
const channel = fake.addChannel(guild.id, { name: 'burst' });
const logger = createLogger('silent');
const config = parseConfig({
  REDIS_URL: redis.url,
  LOG_LEVEL: 'silent',
  DEFAULT_DAILY_ALLOWANCE: '1000000',
  DEFAULT_COOLDOWN_S: '0',
  DEFAULT_PENDING_CAP: '1000',
  DISCORD_ENABLED: 'true',
  DISCORD_TOKEN: fake.botToken,
  DISCORD_APPLICATION_ID: fake.applicationId,
  DISCORD_API_BASE: fake.apiBase,
});
const services = await createServices(config, logger, { prefix: '{bench-discord}' });
const members = Array.from({ length: BURST }, (_, i) => member(`member${i}`));

/** When the member can see the queued status: the first callback with it, or the edit after a defer. */
function statusSeenAt(interaction: FakeInteraction): number | undefined {
  const callId = interaction.ack?.callId;
  if (callId === undefined) return undefined;
  const callback = fake.calls[callId - 1];
  if (interaction.ack?.type === 4) return interaction.ack.at;
  const edit = fake.calls.find(
    (c, i) =>
      i >= callId - 1 &&
      c.route === 'PATCH /webhooks/:id/:token/messages/:id' &&
      c.path.includes(interaction.token),
  );
  return callback && edit ? edit.at : undefined;
}

async function waitedJobs(): Promise<number> {
  const counts = await services.queues.generate.getJobCounts('wait', 'prioritized', 'delayed');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function burst(mode: string, answerBudgetMs: number, round: number): Promise<Figures> {
  const bot = await DiscordBot.start({
    services,
    logger,
    token: fake.botToken,
    apiBase: fake.apiBase,
    prefix: '{bench-discord}',
    answerBudgetMs,
  });
  try {
    const dispatch = (i: number, tag: string) =>
      fake.dispatchInteraction(
        slashCommand({
          fake,
          channel,
          user: members[i % members.length]!,
          name: 'imagine',
          options: [{ name: 'prompt', type: OPT.STRING, value: `${tag} burst ${round} prompt ${i}` }],
        }),
      );
    const warm = Array.from({ length: WARMUP }, (_, i) => dispatch(i, 'warm-up'));
    await fake.waitUntil(() => warm.every((w) => statusSeenAt(w) !== undefined), 30_000);
    await services.queues.generate.obliterate({ force: true });

    const started = performance.now();
    const sent = Array.from({ length: BURST }, (_, i) => dispatch(i, 'bench'));
    let admittedAt = 0;
    while (admittedAt === 0) {
      if ((await waitedJobs()) >= BURST) admittedAt = performance.now();
      else await new Promise((r) => setTimeout(r, 5));
      if (performance.now() - started > 60_000) throw new Error('admissions did not finish within 60 s');
    }
    await fake.waitUntil(() => sent.every((s) => statusSeenAt(s) !== undefined), 60_000);
    const first = sent.map((s) => s.ack!.at - s.dispatchedAt).sort((a, b) => a - b);
    const status = sent.map((s) => statusSeenAt(s)! - s.dispatchedAt).sort((a, b) => a - b);
    await services.queues.generate.obliterate({ force: true });
    return {
      mode,
      firstP50: percentile(first, 50),
      firstP99: percentile(first, 99),
      firstMax: first.at(-1)!,
      deferred: sent.filter((s) => s.ack?.type === 5).length,
      statusP50: percentile(status, 50),
      statusP99: percentile(status, 99),
      admissionsPerS: BURST / ((admittedAt - started) / 1000),
    };
  } finally {
    await bot.stop();
  }
}

try {
  const extra = (process.env.BENCH_BUDGETS ?? '').split(',').filter(Boolean).map(Number);
  // A whole burst first, not reported: the first one pays for JIT compilation and lazy set-up.
  await burst('warm-up', DEFAULT_ANSWER_BUDGET_MS, 0);
  const results = [
    await burst(`default (busy > ${BUSY_IN_FLIGHT}: defer first; else status)`, DEFAULT_ANSWER_BUDGET_MS, 1),
    await burst('always defer first', 0, 2),
  ];
  for (const [i, budget] of extra.entries()) {
    results.push(await burst(`busy: defer first; else status within ${budget} ms`, budget, 3 + i));
  }
  const f = (n: number) => n.toFixed(0).padStart(8);
  console.log(`discord burst of ${BURST} /imagine (fake Discord and bot in one process, private Redis)`);
  console.log(
    `${'mode'.padEnd(46)} ${'1st p50'.padStart(8)} ${'1st p99'.padStart(8)} ${'1st max'.padStart(8)} ${'deferred'.padStart(8)} ${'seen p50'.padStart(8)} ${'seen p99'.padStart(8)} ${'adm/s'.padStart(8)}`,
  );
  for (const r of results) {
    console.log(
      `${r.mode.padEnd(46)} ${f(r.firstP50)} ${f(r.firstP99)} ${f(r.firstMax)} ${f(r.deferred)} ${f(r.statusP50)} ${f(r.statusP99)} ${f(r.admissionsPerS)}`,
    );
  }
  console.log('(ms from dispatch; "1st" = first callback, "seen" = the queued status visible to the member)');
  const main = results[0]!;
  console.log(
    JSON.stringify({
      defer_p50_ms: Math.round(main.firstP50),
      defer_p99_ms: Math.round(main.firstP99),
      admissions_per_s: Math.round(main.admissionsPerS),
    }),
  );
} finally {
  await services.close();
  await fake.stop();
  await redis.stop();
}
