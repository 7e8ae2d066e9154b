import { createServer, type Server } from 'node:http';
import { Queue } from 'bullmq';
import { collectDefaultMetrics } from 'prom-client';
import type { RoleStarter } from '../app/role.ts';
import { connectProducer, createRedis } from '../redis/connections.ts';
import { DELIVER_QUEUE, GENERATE_QUEUE } from '../state/keys.ts';
import { metricsRegistry, setQueueDepthReader } from './metrics.ts';

/**
 * Prometheus `/metrics` on METRICS_PORT (0 turns it off): this process's counters (admissions,
 * job durations, credits) and, read from Redis at scrape time, the depth of both queues.
 */
let defaultsCollected = false;

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: {
  redisUrl: string;
  prefix: string;
  port: number;
  host?: string;
}): Promise<MetricsServer> {
  if (!defaultsCollected) {
    collectDefaultMetrics({ register: metricsRegistry, prefix: 'easel_' });
    defaultsCollected = true;
  }
  const redis = createRedis(options.redisUrl, 'producer', 'easel-metrics');
  // A scrape while Redis is down shows the counters without queue depth; it reconnects by itself.
  await connectProducer(redis).catch(() => undefined);
  const queues = [GENERATE_QUEUE, DELIVER_QUEUE].map(
    (name) => new Queue(name, { connection: redis, prefix: options.prefix }),
  );
  for (const queue of queues) queue.on('error', () => {});
  setQueueDepthReader(async () => {
    const depths: Record<string, Record<string, number>> = {};
    for (const queue of queues) {
      depths[queue.name] = await queue.getJobCounts(
        'wait',
        'prioritized',
        'active',
        'delayed',
        'completed',
        'failed',
      );
    }
    return depths;
  });

  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metricsRegistry
      .metrics()
      .then((text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text))
      .catch((err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    async close() {
      setQueueDepthReader(undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(queues.map((q) => q.close()));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The metrics role for `easel start`: runs beside the others when METRICS_PORT is not 0. */
export const startMetricsRole: RoleStarter = async ({ config, logger }) => {
  if (config.METRICS_PORT === 0) {
    return { name: 'metrics', async stop() {} };
  }
  const server = await startMetricsServer({
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    port: config.METRICS_PORT,
  });
  logger.info({ port: server.port }, 'metrics on /metrics');
  return { name: 'metrics', stop: () => server.close() };
};
