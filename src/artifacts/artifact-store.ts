/**
 * Where rendered images and uploaded input images live between the steps of a job. On disk by
 * default (ARTIFACTS_DIR); the interface is small so an S3-compatible store can follow.
 * Ids are unguessable (they appear in public URLs of the REST API).
 */
export interface ArtifactMeta {
  contentType: string;
  /** Job that produced or uses it, for retention and cleanup. */
  jobId?: string;
  createdAt: number;
}

export interface ArtifactStore {
  put(bytes: Buffer, meta: { contentType: string; jobId?: string }): Promise<string>;
  get(id: string): Promise<{ bytes: Buffer; meta: ArtifactMeta } | undefined>;
  delete(id: string): Promise<void>;
  /** Deletes artifacts created before `cutoffMs`; returns how many went. */
  sweep(cutoffMs: number): Promise<number>;
}
