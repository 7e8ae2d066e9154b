import type { OperationContext } from './generate.ts';

/** The system load operation: the queue and the workers now, in units every face can convert. */
export interface LoadNow {
  /** Jobs waiting (and delayed). */
  queued: number;
  /** Jobs rendering now. */
  active: number;
  /** Render workers alive now; null when they could not be read. */
  workers: number | null;
  /** Average seconds a job took recently. */
  averageSeconds: number;
  /** Estimated seconds until a job sent now is done. */
  etaSeconds: number;
  /** Webhook calls not yet delivered. */
  webhooksPending: number;
}

export async function systemLoad(ctx: Pick<OperationContext, 'services'>): Promise<LoadNow> {
  const load = await ctx.services.systemLoad();
  return {
    queued: load.generate.waiting + load.generate.delayed,
    active: load.generate.active,
    workers: load.workersOnline ?? null,
    averageSeconds: load.averageProcessingSeconds ?? 0,
    etaSeconds: load.etaSecondsForNewJob ?? 0,
    webhooksPending: load.deliver.waiting + load.deliver.delayed + load.deliver.active,
  };
}
