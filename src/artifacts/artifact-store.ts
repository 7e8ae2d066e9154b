/**
 * Where rendered images and uploaded input images live between the steps of a job: on disk by
 * default (ARTIFACTS_DIR, one machine), or in an S3-compatible bucket (ARTIFACTS_URL) that workers,
 * the API and delivery on different machines share. Ids are unguessable (they appear in public URLs
 * of the REST API).
 */
export interface ArtifactMeta {
  contentType: string;
  /** Job that produced or uses it, for retention and cleanup. */
  jobId?: string;
  createdAt: number;
}

/** A URL the client fetches the bytes from directly (a presigned S3 GET), valid for `expiresInS`. */
export interface DirectLink {
  url: string;
  meta: ArtifactMeta;
  expiresInS: number;
}

export interface ArtifactStore {
  put(bytes: Buffer, meta: { contentType: string; jobId?: string }): Promise<string>;
  get(id: string): Promise<{ bytes: Buffer; meta: ArtifactMeta } | undefined>;
  delete(id: string): Promise<void>;
  /** Deletes artifacts created before `cutoffMs`; returns how many went. */
  sweep(cutoffMs: number): Promise<number>;
  /** Present when the store hands out direct links (ARTIFACTS_PRESIGN); undefined for an unknown id. */
  readonly directLink?: (id: string) => Promise<DirectLink | undefined>;
}
