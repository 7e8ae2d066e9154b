import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyWithCredits } from '../src/api/key-admin.ts';
import { ApiKeyStore } from '../src/api/key-store.ts';
import { buildApiServer } from '../src/api/server.ts';
import { createServices } from '../src/app/services.ts';
import { parseConfig } from '../src/config/load-config.ts';
import { createLogger } from '../src/log/logger.ts';
import { startGenerateRole } from '../src/queue/worker-role.ts';

/**
 * The server half of bench/api.ts, in its own process so the clients' work is not counted against
 * it: the real API on a private Redis, answering `processing` at once (API_SYNC_WAIT_MS=0) — the
 * admission path, not the render. With BENCH_RENDER=1 it also runs the real generate worker on
 * easel-mini (the built-in model) and /v1 waits for the render, so the faces that answer only with
 * finished images are measured against /v1 doing the same. Creates one key per client and reports
 * the port and keys over IPC.
 */
const redisUrl = process.env.BENCH_REDIS_URL;
const clients = Number(process.env.BENCH_CLIENTS ?? 200);
const render = process.env.BENCH_RENDER === '1';
if (!redisUrl || !process.send) throw new Error('started by bench/api.ts only');

const config = parseConfig({
  REDIS_URL: redisUrl,
  LOG_LEVEL: 'warn',
  ARTIFACTS_DIR: mkdtempSync(join(tmpdir(), 'easel-bench-api-')),
  API_SYNC_WAIT_MS: render ? '120000' : '0',
  DEFAULT_COOLDOWN_S: '0',
  DEFAULT_PENDING_CAP: '1000',
});
const logger = createLogger(config.LOG_LEVEL);
const services = await createServices(config, logger);
const keys = new ApiKeyStore(services.redis, config.QUEUE_PREFIX);
const created = [];
for (let i = 0; i < clients; i++) {
  created.push((await createKeyWithCredits(services, keys, { name: `bench-${i}`, credits: 100_000 })).key);
}
const worker = render ? await startGenerateRole({ config, logger }) : undefined;
const app = await buildApiServer({ config, logger, services, keys });
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.send({ address, keys: created });
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await app.close();
  await worker?.stop();
  await services.close();
  process.exit(0);
});
