import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startPrivateRedis } from '../src/redis/private-redis-server.ts';

/**
 * `npm run bench:api`: requests per second and latency of text to image up to the `processing`
 * answer (key check, validation, atomic admission in Redis, the BullMQ job), through easel's
 * `/v1/text2img` and, in the same run, through each face that answers before the render (modelslab
 * v3, v4 and v6, imagepipeline), each with its own key placement and body, so a face's cost over
 * /v1 shows as the ratio. BENCH_CLIENTS concurrent clients (200) each send requests back to back on
 * a keep-alive connection. No worker runs: this measures the admission path, not rendering (the
 * synchronous faces, aithriving and segmind, wait for a render and are not in it). The server runs
 * in a child process on a private redis-server. Prints a table, then one JSON line.
 */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const PER_CLIENT = Number(process.env.BENCH_REQUESTS_PER_CLIENT ?? 25);
const WARMUP_PER_CLIENT = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Reply {
  status: number;
  body: string;
}

interface BenchFace {
  name: string;
  path: string;
  /** The key where this face's clients put it. */
  headers(key: string): Record<string, string>;
  body(key: string, prompt: string): Record<string, unknown>;
  /** An answer that is this face's "queued". */
  accepted(reply: Reply): boolean;
}

const FACES: BenchFace[] = [
  {
    name: '/v1/text2img',
    path: '/v1/text2img',
    headers: (key) => ({ authorization: `Bearer ${key}` }),
    body: (_key, prompt) => ({ prompt, samples: 1 }),
    accepted: (r) => r.status === 200,
  },
  {
    name: 'modelslab v3',
    path: '/api/v3/text2img',
    headers: () => ({}),
    body: (key, prompt) => ({
      key,
      prompt,
      width: '512',
      height: '512',
      samples: '1',
      seed: null,
      webhook: null,
    }),
    accepted: (r) => r.status === 200,
  },
  {
    name: 'modelslab v4',
    path: '/api/v4/dreambooth',
    headers: () => ({}),
    body: (key, prompt) => ({ key, prompt, samples: '1', lora_model: null, use_karras_sigmas: 'yes' }),
    accepted: (r) => r.status === 200,
  },
  {
    name: 'modelslab v6',
    path: '/api/v6/images/text2img',
    headers: () => ({}),
    body: (key, prompt) => ({ key, prompt, samples: 1 }),
    accepted: (r) => r.status === 200,
  },
  {
    name: 'imagepipeline',
    path: '/sd3/v1',
    headers: (key) => ({ 'API-Key': key }),
    body: (_key, prompt) => ({ prompt, samples: 1, width: 512, height: 512 }),
    accepted: (r) => r.status === 200,
  },
];

function post(agent: http.Agent, url: URL, headers: Record<string, string>, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const redis = await startPrivateRedis();
const server = fork(fileURLToPath(new URL('./api-server.ts', import.meta.url)), {
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, BENCH_REDIS_URL: redis.url, BENCH_CLIENTS: String(CLIENTS) },
});
try {
  const { address, keys } = await new Promise<{ address: string; keys: string[] }>((resolve, reject) => {
    server.once('message', (m) => resolve(m as { address: string; keys: string[] }));
    server.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });

  const measure = async (face: BenchFace, round: number, perClient: number) => {
    const url = new URL(face.path, address);
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    const samples: string[] = [];
    const run = async (client: number, count: number, offset: number, record: boolean) => {
      for (let i = 0; i < count; i++) {
        // Prompts differ so the 30-second duplicate filter does not refuse them.
        const prompt = `bench ${face.name} round ${round} client ${client} request ${offset + i}`;
        const key = keys[client]!;
        const started = performance.now();
        const reply = await post(agent, url, face.headers(key), JSON.stringify(face.body(key, prompt)));
        if (!record) continue;
        latencies.push(performance.now() - started);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        if (!face.accepted(reply) && samples.length < 3)
          samples.push(`${reply.status} ${reply.body.slice(0, 200)}`);
      }
    };
    await Promise.all(keys.map((_, c) => run(c, WARMUP_PER_CLIENT, 0, false)));
    const started = performance.now();
    await Promise.all(keys.map((_, c) => run(c, perClient, WARMUP_PER_CLIENT, true)));
    const seconds = (performance.now() - started) / 1000;
    return { seconds, latencies, statuses, samples };
  };

  // Every face once unrecorded (the JIT and Redis warm up), then BENCH_ROUNDS rounds of all faces in
  // turn, in a rotating order: a drift of the machine during the run (other processes) falls on every
  // face alike.
  for (const face of FACES) await measure(face, -1, 2);
  const runs = FACES.map((face) => ({
    face,
    seconds: 0,
    latencies: [] as number[],
    accepted: 0,
    samples: [] as string[],
  }));
  for (let round = 0; round < ROUNDS; round++) {
    // Each round starts one face later, so no face always follows the same one.
    const order = FACES.map((_, i) => (i + round) % FACES.length);
    for (const i of order) {
      const face = FACES[i]!;
      const r = await measure(face, round, PER_CLIENT);
      const total = runs[i]!;
      total.seconds += r.seconds;
      total.latencies.push(...r.latencies);
      total.accepted += r.statuses.get(200) ?? 0;
      total.samples.push(...r.samples.slice(0, 3 - total.samples.length));
    }
  }
  agent.destroy();
  const rpsOf = (r: (typeof runs)[number]) => r.latencies.length / r.seconds;
  const reference = rpsOf(runs[0]!);

  const rows = runs.map((r) => {
    r.latencies.sort((a, b) => a - b);
    return {
      face: r.face.name,
      requests: r.latencies.length,
      accepted: r.accepted,
      seconds: r.seconds.toFixed(2),
      rps: rpsOf(r).toFixed(0),
      vs_v1: `${((rpsOf(r) / reference) * 100).toFixed(0)}%`,
      p50_ms: percentile(r.latencies, 50).toFixed(1),
      p99_ms: percentile(r.latencies, 99).toFixed(1),
    };
  });
  const header = Object.keys(rows[0]!);
  const table = rows.map((row) => Object.values(row).map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((cells) => cells[i]!.length)));
  console.log(
    `text to image until the queued answer (admission path, no render), ${CLIENTS} clients, ${ROUNDS} rounds`,
  );
  console.log(header.map((h, i) => h.padEnd(widths[i]!)).join('  '));
  for (const cells of table) console.log(cells.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  for (const r of runs) {
    if (r.samples.length > 0)
      console.log(`${r.face.name}: refused answers, e.g.:\n  ${r.samples.join('\n  ')}`);
  }
  console.log(
    JSON.stringify(
      Object.fromEntries(
        runs.map((r) => [
          r.face.name,
          {
            rps: Math.round(rpsOf(r)),
            p50_ms: Number(percentile(r.latencies, 50).toFixed(1)),
            vs_v1: Number((rpsOf(r) / reference).toFixed(3)),
          },
        ]),
      ),
    ),
  );
} finally {
  server.send('stop');
  await new Promise((resolve) => server.once('exit', resolve));
  await redis.stop();
}
