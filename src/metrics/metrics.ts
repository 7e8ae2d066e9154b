import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * easel's Prometheus instruments, one set per process (every role in the process shares them and
 * the /metrics server exposes them). Queue depth is read from Redis at scrape time by whoever
 * registers a reader (the metrics server does), so it is right whichever process asks.
 */
export const metricsRegistry = new Registry();

export const admissionsTotal = new Counter({
  name: 'easel_admissions_total',
  help: 'Admission decisions by outcome (accepted or the refusal reason).',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});

export const admissionSeconds = new Histogram({
  name: 'easel_admission_duration_seconds',
  help: 'Time to admit or refuse one request (Redis round trips included).',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  registers: [metricsRegistry],
});

export const jobSeconds = new Histogram({
  name: 'easel_job_duration_seconds',
  help: 'Processing time of generate jobs that succeeded, by model.',
  labelNames: ['model'] as const,
  buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320],
  registers: [metricsRegistry],
});

export const denoiseBatchJobs = new Histogram({
  name: 'easel_denoise_batch_jobs',
  help: 'Jobs denoised together, one UNet run per step for all of them (WORKER_BATCH), per batch run.',
  buckets: [1, 2, 3, 4, 6, 8, 12, 16],
  registers: [metricsRegistry],
});

export const jobsFinishedTotal = new Counter({
  name: 'easel_jobs_finished_total',
  help: 'Generate jobs finished, by outcome (completed, failed, cancelled).',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});

export const creditsSpentTotal = new Counter({
  name: 'easel_credits_spent_total',
  help: 'Credits committed (charged for renders that succeeded).',
  registers: [metricsRegistry],
});

export const creditsRefundedTotal = new Counter({
  name: 'easel_credits_refunded_total',
  help: 'Credits given back for jobs that failed or were cancelled.',
  registers: [metricsRegistry],
});

export const deliveriesTotal = new Counter({
  name: 'easel_deliveries_total',
  help: 'Delivery attempts by platform and outcome.',
  labelNames: ['platform', 'outcome'] as const,
  registers: [metricsRegistry],
});

type DepthReader = () => Promise<Record<string, Record<string, number>>>;
let depthReader: DepthReader | undefined;

/** Queue depth by queue and state, read when scraped. */
export const queueDepth = new Gauge({
  name: 'easel_queue_depth',
  help: 'Jobs in each queue by state.',
  labelNames: ['queue', 'state'] as const,
  registers: [metricsRegistry],
  async collect() {
    if (!depthReader) return;
    this.reset();
    const depths = await depthReader().catch(() => undefined);
    if (!depths) return;
    for (const [queue, states] of Object.entries(depths)) {
      for (const [state, count] of Object.entries(states)) this.set({ queue, state }, count);
    }
  },
});

export function setQueueDepthReader(reader: DepthReader | undefined): void {
  depthReader = reader;
}
