/**
 * Admission throughput and latency against raw BullMQ `Queue.add`, same run, same Redis.
 *
 *   node --import tsx bench/admission.ts [--requests 5000] [--in-flight 1000] [--rounds 3]
 *
 * Runs a private redis-server (never the machine's own Redis) unless BENCH_REDIS_URL is set.
 * Both sides keep the same number of calls in flight; each admission is the whole step (Lua checks
 * and reservation, then the BullMQ add with its priority). Prints a table, then one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { createServices } from '../src/app/services.ts';
import { parseConfig } from '../src/config/load-config.ts';
import { createLogger } from '../src/log/logger.ts';
import type { MemberRef } from '../src/members/member-ref.ts';
import { createRedis } from '../src/redis/connections.ts';
import {
  type PrivateRedis,
  redisServerOnPath,
  startPrivateRedis,
} from '../src/redis/private-redis-server.ts';
import type { GenerationRequest } from '../src/request/types.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '5000' },
    'in-flight': { type: 'string', default: '1000' },
    members: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const REQUESTS = Number(values.requests);
const IN_FLIGHT = Number(values['in-flight']);
const MEMBERS = Number(values.members);
const ROUNDS = Number(values.rounds);

let server: PrivateRedis | undefined;
let redisUrl = process.env.BENCH_REDIS_URL;
if (!redisUrl) {
  if (!redisServerOnPath()) throw new Error('bench needs redis-server on PATH or BENCH_REDIS_URL');
  server = await startPrivateRedis();
  redisUrl = server.url;
}

const request: GenerationRequest = {
  mode: 'txt2img',
  prompt: 'a lighthouse on a cliff at dusk',
  negativePrompt: '',
  model: 'easel-mini',
  width: 512,
  height: 512,
  steps: 25,
  guidance: 4,
  sampler: 'ddim',
  seed: 1,
  count: 1,
};

/** Runs `count` calls of `op` keeping `inFlight` of them running; returns each call's latency. */
async function drive(count: number, inFlight: number, op: (i: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = new Array(count);
  let next = 0;
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const start = performance.now();
      await op(i);
      latencies[i] = performance.now() - start;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  return latencies;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function rawAdds(prefix: string, inFlight = IN_FLIGHT): Promise<{ perS: number; latencies: number[] }> {
  const connection = createRedis(redisUrl as string, 'producer', 'bench-raw');
  await connection.connect();
  const queue = new Queue('generate', { connection, prefix });
  await queue.waitUntilReady();
  const data = { v: 1, request, createdAt: Date.now() };
  // Warm-up (script loading, JIT), not measured.
  await drive(200, 50, async (i) => {
    await queue.add('generate', data, { jobId: `w${i}`, priority: 1 });
  });
  const started = performance.now();
  const latencies = await drive(REQUESTS, inFlight, async (i) => {
    await queue.add('generate', data, { jobId: `r${i}`, priority: 1 + (i % 10) * 10, attempts: 3 });
  });
  const perS = REQUESTS / ((performance.now() - started) / 1000);
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return { perS, latencies };
}

async function admissions(
  prefix: string,
  inFlight = IN_FLIGHT,
): Promise<{ perS: number; latencies: number[]; accepted: number }> {
  const config = parseConfig({
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'silent',
    DEFAULT_DAILY_ALLOWANCE: '1000000',
    DEFAULT_COOLDOWN_S: '0',
    DEFAULT_PENDING_CAP: '1000',
    DUPLICATE_WINDOW_S: '30',
  });
  const services = await createServices(config, createLogger('silent'), { prefix });
  const members: MemberRef[] = Array.from({ length: MEMBERS }, (_, i) => ({
    scope: { kind: 'discord', id: `guild-${i % 20}` },
    userId: `member-${i}`,
    roles: [],
  }));
  const admit = (tag: string, i: number) =>
    services.admission.admit({
      requestId: `${tag}-${i}`,
      member: members[i % MEMBERS] as MemberRef,
      request: { ...request, prompt: `${request.prompt} ${tag} ${i}` },
      origin: { platform: 'cli' },
    });
  await drive(200, 50, async (i) => {
    await admit('warm', i);
  });
  let accepted = 0;
  const started = performance.now();
  const latencies = await drive(REQUESTS, inFlight, async (i) => {
    if ((await admit('bench', i)).accepted) accepted++;
  });
  const perS = REQUESTS / ((performance.now() - started) / 1000);
  await services.queues.generate.obliterate({ force: true });
  await services.close();
  return { perS, latencies, accepted };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

try {
  // Rounds alternate raw and admission (and which goes first), and each side's figure is its
  // median round: on a machine shared with other work, load that comes and goes falls on both
  // sides alike instead of on whichever ran at the wrong moment. Latencies pool every round.
  // Two full unmeasured rounds of each first, so both sides are measured in their steady state, as
  // a long-running process serves. Node takes about 15,000 calls to settle (JIT tiers, heap
  // sizing): in the second round an admission still cost 50-60 µs of Node CPU, from the third
  // 22-30 µs, and raw Queue.add's rounds likewise ran 1.5-2x slower until then.
  for (const warm of [1, 2]) {
    await rawAdds(`{bench-raw-warm-${warm}}`);
    await admissions(`{bench-admission-warm-${warm}}`);
  }
  const rawRounds: { perS: number; latencies: number[] }[] = [];
  const admRounds: { perS: number; latencies: number[]; accepted: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) rawRounds.push(await rawAdds(`{bench-raw-${round}}`));
    admRounds.push(await admissions(`{bench-admission-${round}}`));
    if (round % 2 === 1) rawRounds.push(await rawAdds(`{bench-raw-${round}}`));
  }
  for (const round of admRounds) {
    if (round.accepted !== REQUESTS)
      throw new Error(`only ${round.accepted} of ${REQUESTS} admissions accepted`);
  }
  const raw = {
    perS: median(rawRounds.map((r) => r.perS)),
    latencies: rawRounds.flatMap((r) => r.latencies),
  };
  const adm = {
    perS: median(admRounds.map((r) => r.perS)),
    latencies: admRounds.flatMap((r) => r.latencies),
  };
  // For reference: the same with few requests in flight, where latency is the step's own cost.
  const light = 50;
  const rawLight = await rawAdds('{bench-raw-light}', light);
  const admLight = await admissions('{bench-admission-light}', light);

  const sortedAdm = [...adm.latencies].sort((a, b) => a - b);
  const sortedRaw = [...raw.latencies].sort((a, b) => a - b);
  const row = (name: string, perS: number, sorted: number[]) =>
    `${name.padEnd(26)} ${perS.toFixed(0).padStart(10)} ${percentile(sorted, 50).toFixed(2).padStart(9)} ${percentile(sorted, 99).toFixed(2).padStart(9)}`;
  console.log(
    `requests ${REQUESTS} x ${ROUNDS} rounds, in flight ${IN_FLIGHT}, members ${MEMBERS}, redis ${redisUrl}`,
  );
  console.log(
    `rounds per second: raw ${rawRounds.map((r) => r.perS.toFixed(0)).join(' ')}; admission ${admRounds.map((r) => r.perS.toFixed(0)).join(' ')}`,
  );
  const roundP99 = (rounds: { latencies: number[] }[]) =>
    rounds
      .map((r) =>
        percentile(
          [...r.latencies].sort((a, b) => a - b),
          99,
        ).toFixed(0),
      )
      .join(' ');
  console.log(`rounds p99 ms: raw ${roundP99(rawRounds)}; admission ${roundP99(admRounds)}`);
  console.log(
    `${'operation'.padEnd(26)} ${'per second'.padStart(10)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)}`,
  );
  console.log(row('BullMQ Queue.add', raw.perS, sortedRaw));
  console.log(row('admission (whole step)', adm.perS, sortedAdm));
  const sort = (values: number[]) => [...values].sort((a, b) => a - b);
  console.log(row(`Queue.add, ${light} in flight`, rawLight.perS, sort(rawLight.latencies)));
  console.log(row(`admission, ${light} in flight`, admLight.perS, sort(admLight.latencies)));
  console.log(
    `ratio ${(adm.perS / raw.perS).toFixed(2)} at ${IN_FLIGHT} in flight (target >= 0.50); p99 target < 50 ms`,
  );
  console.log(
    JSON.stringify({
      admissions_per_s: Math.round(adm.perS),
      raw_add_per_s: Math.round(raw.perS),
      ratio: Number((adm.perS / raw.perS).toFixed(3)),
      p50_ms: Number(percentile(sortedAdm, 50).toFixed(2)),
      p99_ms: Number(percentile(sortedAdm, 99).toFixed(2)),
    }),
  );
} finally {
  await server?.stop();
}
