import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startPrivateRedis } from '../src/redis/private-redis-server.ts';

/**
 * `npm run bench:api`: requests per second and latency of `POST /v1/text2img` up to the
 * `processing` answer (key check, validation, atomic admission in Redis, the BullMQ job), with
 * BENCH_CLIENTS concurrent clients (200) each sending requests back to back on a keep-alive
 * connection. No worker runs: this measures the admission path, not rendering. The server runs in
 * a child process on a private redis-server. Prints a table, then one JSON line.
 */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const PER_CLIENT = Number(process.env.BENCH_REQUESTS_PER_CLIENT ?? 25);
const WARMUP_PER_CLIENT = 2;

interface Reply {
  status: number;
  body: string;
}

function post(agent: http.Agent, url: URL, key: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${key}`,
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
  const url = new URL('/v1/text2img', address);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const statuses = new Map<number, number>();
  const latencies: number[] = [];
  const samples: string[] = [];

  const run = async (client: number, count: number, offset: number, record: boolean) => {
    for (let i = 0; i < count; i++) {
      // Prompts differ so the 30-second duplicate filter does not refuse them.
      const body = JSON.stringify({ prompt: `bench client ${client} request ${offset + i}`, samples: 1 });
      const started = performance.now();
      const reply = await post(agent, url, keys[client]!, body);
      if (!record) continue;
      latencies.push(performance.now() - started);
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status !== 200 && samples.length < 3)
        samples.push(`${reply.status} ${reply.body.slice(0, 200)}`);
    }
  };

  await Promise.all(keys.map((_, c) => run(c, WARMUP_PER_CLIENT, 0, false)));
  const started = performance.now();
  await Promise.all(keys.map((_, c) => run(c, PER_CLIENT, WARMUP_PER_CLIENT, true)));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const ok = statuses.get(200) ?? 0;
  const rps = latencies.length / seconds;
  const row = {
    clients: CLIENTS,
    requests: latencies.length,
    processing: ok,
    refused: latencies.length - ok,
    seconds: seconds.toFixed(2),
    rps: rps.toFixed(0),
    p50_ms: percentile(latencies, 50).toFixed(1),
    p90_ms: percentile(latencies, 90).toFixed(1),
    p99_ms: percentile(latencies, 99).toFixed(1),
    max_ms: (latencies.at(-1) ?? 0).toFixed(1),
  };
  const header = Object.keys(row);
  const cells = Object.values(row).map(String);
  const widths = header.map((h, i) => Math.max(h.length, cells[i]!.length));
  console.log('POST /v1/text2img until the `processing` answer (admission path, no render)');
  console.log(header.map((h, i) => h.padStart(widths[i]!)).join('  '));
  console.log(cells.map((c, i) => c.padStart(widths[i]!)).join('  '));
  if (samples.length > 0) console.log(`non-200 answers, e.g.:\n  ${samples.join('\n  ')}`);
  console.log(
    JSON.stringify({
      rps: Math.round(rps),
      p50_ms: Number(percentile(latencies, 50).toFixed(1)),
      p99_ms: Number(percentile(latencies, 99).toFixed(1)),
    }),
  );
} finally {
  server.send('stop');
  await new Promise((resolve) => server.once('exit', resolve));
  await redis.stop();
}
