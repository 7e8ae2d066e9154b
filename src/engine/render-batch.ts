import type { Logger } from '../log/logger.ts';
import { denoiseBatchJobs } from '../metrics/metrics.ts';
import type { GenerateJobData, GenerateResult } from '../queue/job-data.ts';
import { DenoiseRendezvous } from './denoise-rendezvous.ts';
import { createRenderer, type RendererDeps, type RenderJobContext } from './render-job.ts';

export interface BatchMember {
  data: GenerateJobData;
  ctx: RenderJobContext;
}

/**
 * Cross-user batching, the engine's part: the jobs of a batch (same `batchKey`) each go through the
 * ordinary render (their own inputs, text conditioning, decoding, screening and storing) side by
 * side, and meet for the denoising, which runs as one UNet batch. A job's failure or cancel is its
 * own: one promise per member, in order, each settling when that job is done.
 */
export function createBatchRenderer(deps: RendererDeps, logger: Logger) {
  const render = createRenderer(deps);
  return function renderBatch(members: readonly BatchMember[]): Promise<GenerateResult>[] {
    const rendezvous = new DenoiseRendezvous(members.length, (lanes) => {
      denoiseBatchJobs.observe(lanes);
      logger.info({ jobs: lanes, of: members.length }, 'denoising together');
    });
    return members.map(async ({ data, ctx }) => {
      try {
        return await render(data, { ...ctx, denoise: rendezvous.denoise });
      } finally {
        rendezvous.leave();
      }
    });
  };
}
