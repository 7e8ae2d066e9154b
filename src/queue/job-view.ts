import type { GenerateJobData, GenerateResult } from './job-data.ts';

export type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'cancelled';

export interface JobProgress {
  step: number;
  total: number;
}

/** A generate job as frontends show it (REST `fetch`, Discord status, CLI). */
export interface JobView {
  jobId: string;
  state: JobState;
  progress?: JobProgress;
  /** 1-based place among waiting jobs (waiting or delayed only). */
  position?: number;
  /** Estimated seconds until the result (not for finished jobs). */
  etaSeconds?: number;
  data: GenerateJobData;
  result?: GenerateResult;
  failedReason?: string;
  attemptsMade: number;
  createdAt: number;
  finishedAt?: number;
}

export interface CancelOutcome {
  /** The state the job was in when cancelled. */
  was: 'waiting' | 'active';
  refunded: number;
}
