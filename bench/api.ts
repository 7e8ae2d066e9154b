import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startPrivateRedis } from '../src/redis/private-redis-server.ts';

/**
 * `npm run bench:api`: requests per second and latency of text to image through easel's
 * `/v1/text2img` and, in the same run, through each face, each with its own key placement and body,
 * so a face's cost over /v1 shows as the ratio. Two tables, each from a server of its own:
 *
 * 1. Until the queued answer (key check, validation, atomic admission in Redis, the BullMQ job), for
 *    the faces that answer before the render (modelslab v3, v4 and v6, imagepipeline): BENCH_CLIENTS
 *    concurrent clients (200), no worker, so this measures the admission path, not rendering.
 * 2. Until the finished answer, for the faces that answer only with the images (AUTOMATIC1111's
 *    txt2img with base64 images, aithriving's base64 PNG, segmind's JPEG, OpenAI's generations as URLs
 *    and as b64_json), against /v1 waiting
 *    for its render too: BENCH_RENDER_CLIENTS clients (8), the real generate worker rendering
 *    easel-mini at its defaults, so the render is the same in every row and a face's own cost (its
 *    mapping, reading the PNGs back, base64) shows as the ratio.
 *
 * Clients send requests back to back on keep-alive connections. The server runs in a child process
 * on a private redis-server. Prints each table, then one JSON line.
 */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const PER_CLIENT = Number(process.env.BENCH_REQUESTS_PER_CLIENT ?? 25);
const RENDER_CLIENTS = Number(process.env.BENCH_RENDER_CLIENTS ?? 8);
const RENDER_PER_CLIENT = Number(process.env.BENCH_RENDER_REQUESTS_PER_CLIENT ?? 4);
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

/** Every row renders the same: easel-mini at its default steps (OpenAI's API has no steps field). */
const FINISHED_FACES: BenchFace[] = [
  {
    name: '/v1/text2img (waits, base64)',
    path: '/v1/text2img',
    headers: (key) => ({ authorization: `Bearer ${key}` }),
    body: (_key, prompt) => ({ prompt, samples: 1, base64: true }),
    accepted: (r) => r.status === 200 && r.body.includes('"status":"success"'),
  },
  {
    name: 'AUTOMATIC1111 txt2img',
    path: '/sdapi/v1/txt2img',
    headers: (key) => ({ authorization: `Basic ${Buffer.from(`webui:${key}`).toString('base64')}` }),
    body: (_key, prompt) => ({
      prompt,
      negative_prompt: '',
      seed: -1,
      batch_size: 1,
      n_iter: 1,
      cfg_scale: 1.5,
      width: 512,
      height: 512,
      sampler_name: 'Euler a',
      scheduler: 'automatic',
      enable_hr: false,
      denoising_strength: 0.7,
      override_settings: {},
      alwayson_scripts: {},
      send_images: true,
    }),
    accepted: (r) => r.status === 200 && r.body.startsWith('{"images":["'),
  },
  {
    name: 'aithriving SD3',
    path: '/api/generate/sdv3/textToImage',
    headers: (key) => ({ authorization: key }),
    body: (_key, prompt) => ({ prompt, negative_prompt: '', aspect_ratio: '1:1' }),
    accepted: (r) => r.status === 200 && r.body.startsWith('{"code":0'),
  },
  {
    name: 'segmind SD 2.1 (JPEG)',
    path: '/v1/sd2.1-txt2img',
    headers: (key) => ({ 'x-api-key': key }),
    body: (_key, prompt) => ({ prompt, samples: 1, img_width: 512, img_height: 512, base64: false }),
    accepted: (r) => r.status === 200 && r.body.length > 1000,
  },
  {
    name: 'OpenAI generations (url)',
    path: '/v1/images/generations',
    headers: (key) => ({ authorization: `Bearer ${key}` }),
    body: (_key, prompt) => ({ model: 'dall-e-2', prompt, n: 1, size: '512x512' }),
    accepted: (r) => r.status === 200 && r.body.includes('"url":'),
  },
  {
    name: 'OpenAI generations (b64_json)',
    path: '/v1/images/generations',
    headers: (key) => ({ authorization: `Bearer ${key}` }),
    body: (_key, prompt) => ({
      model: 'dall-e-2',
      prompt,
      n: 1,
      size: '512x512',
      response_format: 'b64_json',
    }),
    accepted: (r) => r.status === 200 && r.body.includes('"b64_json":'),
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

interface Table {
  title: string;
  faces: BenchFace[];
  clients: number;
  perClient: number;
  /** Runs the real generate worker, and /v1 waits for the render. */
  render: boolean;
}

/** One table: a server of its own, every face warmed up, then ROUNDS rounds of all faces in turn. */
async function runTable({ title, faces, clients, perClient, render }: Table) {
  const redis = await startPrivateRedis();
  const server = fork(fileURLToPath(new URL('./api-server.ts', import.meta.url)), {
    // BENCH_PROFILE=<dir>: the server writes a V8 CPU profile there (node --cpu-prof).
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
    ],
    env: {
      ...process.env,
      BENCH_REDIS_URL: redis.url,
      BENCH_CLIENTS: String(clients),
      BENCH_RENDER: render ? '1' : '0',
    },
  });
  try {
    const { address, keys } = await new Promise<{ address: string; keys: string[] }>((resolve, reject) => {
      server.once('message', (m) => resolve(m as { address: string; keys: string[] }));
      server.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: clients });

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
    for (const face of faces) await measure(face, -1, 2);
    const runs = faces.map((face) => ({
      face,
      seconds: 0,
      latencies: [] as number[],
      accepted: 0,
      samples: [] as string[],
    }));
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts one face later, so no face always follows the same one.
      const order = faces.map((_, i) => (i + round) % faces.length);
      for (const i of order) {
        const face = faces[i]!;
        const r = await measure(face, round, perClient);
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
        rps: rpsOf(r).toFixed(rpsOf(r) < 100 ? 1 : 0),
        vs_v1: `${((rpsOf(r) / reference) * 100).toFixed(0)}%`,
        p50_ms: percentile(r.latencies, 50).toFixed(1),
        p99_ms: percentile(r.latencies, 99).toFixed(1),
      };
    });
    const header = Object.keys(rows[0]!);
    const table = rows.map((row) => Object.values(row).map(String));
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((cells) => cells[i]!.length)));
    console.log(`${title}, ${clients} clients, ${ROUNDS} rounds`);
    console.log(header.map((h, i) => h.padEnd(widths[i]!)).join('  '));
    for (const cells of table) console.log(cells.map((c, i) => c.padEnd(widths[i]!)).join('  '));
    for (const r of runs) {
      if (r.samples.length > 0)
        console.log(`${r.face.name}: refused answers, e.g.:\n  ${r.samples.join('\n  ')}`);
    }
    return Object.fromEntries(
      runs.map((r) => [
        r.face.name,
        {
          rps: Number(rpsOf(r).toFixed(rpsOf(r) < 100 ? 1 : 0)),
          p50_ms: Number(percentile(r.latencies, 50).toFixed(1)),
          vs_v1: Number((rpsOf(r) / reference).toFixed(3)),
        },
      ]),
    );
  } finally {
    server.send('stop');
    await new Promise((resolve) => server.once('exit', resolve));
    await redis.stop();
  }
}

/** BENCH_FACES: a comma list of face names to run (the /v1 row always runs: it is the reference). */
const only = process.env.BENCH_FACES?.split(',').map((f) => f.trim());
const chosen = (faces: BenchFace[]) =>
  faces.filter((f, i) => i === 0 || only === undefined || only.some((name) => f.name.startsWith(name)));

const queued = await runTable({
  title: 'text to image until the queued answer (admission path, no render)',
  faces: chosen(FACES),
  clients: CLIENTS,
  perClient: PER_CLIENT,
  render: false,
});
console.log();
const finished = await runTable({
  title: 'text to image until the finished answer (one worker rendering easel-mini)',
  faces: chosen(FINISHED_FACES),
  clients: RENDER_CLIENTS,
  perClient: RENDER_PER_CLIENT,
  render: true,
});
console.log(JSON.stringify({ queued, finished }));
