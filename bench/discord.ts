import { createServices } from '../src/app/services.ts';
import { parseConfig } from '../src/config/load-config.ts';
import { createLogger } from '../src/log/logger.ts';
import { DiscordBot } from '../src/platforms/discord/discord-bot.ts';
import { BUSY_IN_FLIGHT, DEFAULT_ANSWER_BUDGET_MS } from '../src/platforms/discord/first-response.ts';
import { startPrivateRedis } from '../src/redis/private-redis-server.ts';
import { FakeDiscord, type FakeInteraction, type RecordedCall } from '../test/fakes/discord/fake-discord.ts';
import { member, OPT, slashCommand } from '../test/fakes/discord/interactions.ts';

/**
 * `npm run bench:discord`: the fake Discord dispatches a burst of BENCH_BURST (500) `/imagine`
 * interactions at once to the real discord.js bot, which admits each into BullMQ on a private
 * redis-server (no worker renders). Figures: dispatch → first callback (the defer, or the status
 * itself when admission answers within the bot's budget), dispatch → the member sees the queued
 * status, and admissions per second. Bursts: a cold bot (first burst after start, shown, not in the
 * JSON), the default of a warm bot (busy: defer before the work; quiet: the status as the first
 * answer when admission takes under DEFAULT_ANSWER_BUDGET_MS), and "always defer first"
 * (BENCH_BUDGETS=ms,... adds other budgets). Fake and bot share one process, as in NOTES.md's
 * discord.js floor measurement. Table, then one JSON line (the warm default).
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
  /** TCP connections the bot opened to the API during the burst (keep-alive reuses them). */
  connections: number;
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

/** First successful edit of each interaction's reply (by token), recorded as the fake answers it. */
const editedAt = new Map<string, number>();
fake.on('call', (call: RecordedCall) => {
  if (call.route !== 'PATCH /webhooks/:id/:token/messages/:id' || call.status !== 200) return;
  const token = call.path.split('/')[3]!;
  if (!editedAt.has(token)) editedAt.set(token, call.at);
});

/** When the member can see the queued status: the first callback with it, or the edit after a defer. */
function statusSeenAt(interaction: FakeInteraction): number | undefined {
  if (interaction.ack?.type === 4) return interaction.ack.at;
  return interaction.ack ? editedAt.get(interaction.token) : undefined;
}

/** Polls (cheaply) until every interaction shows its status. */
async function allSeen(sent: FakeInteraction[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (sent.some((s) => statusSeenAt(s) === undefined)) {
    if (performance.now() > deadline) {
      const stuck = sent.filter((s) => statusSeenAt(s) === undefined);
      for (const s of stuck.slice(0, 3)) {
        const calls = fake.calls.filter((c) => c.path.includes(s.token) || c.path.includes(s.id));
        console.error(
          `stuck ${s.id}`,
          calls.map((c) => `${c.route} ${c.status} after ${(c.at - s.dispatchedAt).toFixed(0)} ms`),
        );
      }
      throw new Error(`${stuck.length} of ${sent.length} interactions never showed their status`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
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
    await allSeen(warm, 30_000);
    await services.queues.generate.obliterate({ force: true });

    const connectionsBefore = fake.connections;
    const startedEpoch = Date.now();
    const sent = Array.from({ length: BURST }, (_, i) => dispatch(i, 'bench'));
    await allSeen(sent, 60_000);
    // Each BullMQ job carries the time it was added: the last one marks the end of the admissions.
    const jobs = await services.queues.generate.getJobs(['wait', 'prioritized', 'delayed']);
    const lastAdded = Math.max(...jobs.map((j) => j.timestamp));
    const refused = sent.filter((s) => !/Queued/.test(fake.originalOf(s.id)?.content ?? ''));
    if (refused.length > 0) {
      const sample = refused
        .slice(0, 3)
        .map((s) => JSON.stringify(fake.calls.find((c) => c.path.includes(s.token))?.json));
      console.error(`${refused.length} of ${BURST} were not queued, e.g.:\n${sample.join('\n')}`);
    }
    const first = sent.map((s) => s.ack!.at - s.dispatchedAt).sort((a, b) => a - b);
    const status = sent.map((s) => statusSeenAt(s)! - s.dispatchedAt).sort((a, b) => a - b);
    await services.queues.generate.obliterate({ force: true });
    return {
      mode,
      firstP50: percentile(first, 50),
      firstP99: percentile(first, 99),
      firstMax: first.at(-1)!,
      deferred: sent.filter((s) => s.ack?.type === 5).length,
      connections: fake.connections - connectionsBefore,
      statusP50: percentile(status, 50),
      statusP99: percentile(status, 99),
      admissionsPerS: jobs.length / ((lastAdded - startedEpoch) / 1000),
    };
  } finally {
    await bot.stop();
  }
}

try {
  const extra = (process.env.BENCH_BUDGETS ?? '').split(',').filter(Boolean).map(Number);
  // A whole burst first: the first one pays for JIT compilation, lazy set-up and opening the
  // connections (hundreds at once); it is shown but the JSON line reports a warm bot.
  const results = [
    await burst('cold bot (first burst), default', DEFAULT_ANSWER_BUDGET_MS, 0),
    await burst(`default (busy > ${BUSY_IN_FLIGHT}: defer first; else status)`, DEFAULT_ANSWER_BUDGET_MS, 1),
    await burst('always defer first', 0, 2),
  ];
  for (const [i, budget] of extra.entries()) {
    results.push(await burst(`busy: defer first; else status within ${budget} ms`, budget, 3 + i));
  }
  const f = (n: number) => n.toFixed(0).padStart(8);
  console.log(`discord burst of ${BURST} /imagine (fake Discord and bot in one process, private Redis)`);
  console.log(
    `${'mode'.padEnd(46)} ${'1st p50'.padStart(8)} ${'1st p99'.padStart(8)} ${'1st max'.padStart(8)} ${'deferred'.padStart(8)} ${'seen p50'.padStart(8)} ${'seen p99'.padStart(8)} ${'adm/s'.padStart(8)} ${'conns'.padStart(6)}`,
  );
  for (const r of results) {
    console.log(
      `${r.mode.padEnd(46)} ${f(r.firstP50)} ${f(r.firstP99)} ${f(r.firstMax)} ${f(r.deferred)} ${f(r.statusP50)} ${f(r.statusP99)} ${f(r.admissionsPerS)} ${String(r.connections).padStart(6)}`,
    );
  }
  console.log(
    '(ms from dispatch; "1st" = first callback, "seen" = the queued status visible to the member; conns = new TCP connections)',
  );
  const main = results[1]!;
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
