import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { isArtifactId, newArtifactId } from './artifact-id.ts';
import type { ArtifactMeta, ArtifactStore, DirectLink } from './artifact-store.ts';
import type { S3Location } from './artifacts-url.ts';

/** Where the client connects and how it signs: the usual AWS variables, passed explicitly. */
export interface S3Connection {
  region: string;
  /** An S3-compatible server (MinIO, Ceph, s3rver); path-style addressing is used whenever set. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

export function createS3Client(connection: S3Connection): S3Client {
  return new S3Client({
    region: connection.region,
    ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint, forcePathStyle: true }),
    // Without both keys the SDK's default chain applies (instance role, web identity, profile).
    ...(connection.accessKeyId && connection.secretAccessKey
      ? {
          credentials: {
            accessKeyId: connection.accessKeyId,
            secretAccessKey: connection.secretAccessKey,
          },
        }
      : {}),
    // Checksums only where S3 requires them: many S3-compatible servers refuse or ignore the newer
    // CRC headers the SDK otherwise adds to every upload.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

const CREATED_AT = 'created-at';
const JOB_ID = 'job-id';
const SHA256 = 'sha256';
const SIZE = 'size';
/** DeleteObjects takes at most 1,000 keys a call. */
const DELETE_BATCH = 1000;

/**
 * Artifacts in an S3 bucket under a prefix (ARTIFACTS_URL=s3://bucket/prefix), one object per
 * artifact, named by its id. The metadata the disk store keeps in its sidecar travels on the same
 * object (content type and user metadata), and a single PUT is atomic in S3: the object, bytes and
 * metadata together, is visible only once the upload completed, so no reader ever sees a half
 * artifact and there are no temporary leftovers to sweep (multipart uploads are never used). Not
 * every S3-compatible server keeps that promise (s3rver stores what arrived of a broken-off PUT), so
 * the object also carries the SHA-256 of its bytes, sent in the headers ahead of the body: `get`
 * treats an object whose bytes do not match as absent, and the sweep removes it in time.
 *
 * The sweep lists the prefix and deletes objects whose last-modified time (the server's clock at
 * the PUT) is before the cutoff; a lifecycle expiration rule on the prefix may do the same work,
 * in whole days. With `presignExpiresS`, `directLink` hands out presigned GET URLs so image bytes
 * go from S3 to the client without passing through the API.
 */
export class S3ArtifactStore implements ArtifactStore {
  private readonly bucket: string;
  private readonly prefix: string;
  readonly directLink?: (id: string) => Promise<DirectLink | undefined>;

  constructor(
    location: S3Location,
    private readonly client: S3Client,
    private readonly options: {
      presignExpiresS?: number;
      now?: () => number;
      /** Keys per listing page in the sweep; S3 returns at most 1,000 (its default). */
      listPageSize?: number;
    } = {},
  ) {
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    const expiresInS = options.presignExpiresS;
    if (expiresInS !== undefined) this.directLink = (id) => this.presigned(id, expiresInS);
  }

  async put(bytes: Buffer, meta: { contentType: string; jobId?: string }): Promise<string> {
    const id = newArtifactId();
    const now = this.options.now ?? Date.now;
    const metadata: Record<string, string> = {
      [CREATED_AT]: String(now()),
      [SHA256]: createHash('sha256').update(bytes).digest('hex'),
      [SIZE]: String(bytes.length),
    };
    if (meta.jobId !== undefined) metadata[JOB_ID] = meta.jobId;
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(id),
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: meta.contentType,
        Metadata: metadata,
      }),
    );
    return id;
  }

  async get(id: string): Promise<{ bytes: Buffer; meta: ArtifactMeta } | undefined> {
    // Ids arrive from public URLs: anything that is not an id we issued cannot name an object.
    if (!isArtifactId(id)) return undefined;
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(id) }));
      if (object.Body === undefined) return undefined;
      const bytes = Buffer.from(await object.Body.transformToByteArray());
      // No hash (its metadata never arrived) or another one: an upload that did not finish.
      if (createHash('sha256').update(bytes).digest('hex') !== object.Metadata?.[SHA256]) return undefined;
      return { bytes, meta: metaOf(object) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(id: string): Promise<void> {
    if (!isArtifactId(id)) return;
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(id) }));
  }

  async sweep(cutoffMs: number): Promise<number> {
    let removed = 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix,
          ContinuationToken: token,
          ...(this.options.listPageSize === undefined ? {} : { MaxKeys: this.options.listPageSize }),
        }),
      );
      const expired = (page.Contents ?? [])
        .filter((object) => {
          const name = object.Key?.slice(this.prefix.length) ?? '';
          // Only what this store wrote: other objects that share the prefix are not ours to delete.
          return (
            isArtifactId(name) &&
            object.LastModified !== undefined &&
            object.LastModified.getTime() < cutoffMs
          );
        })
        .map((object) => object.Key as string);
      for (let i = 0; i < expired.length; i += DELETE_BATCH) {
        const keys = expired.slice(i, i + DELETE_BATCH);
        const answer = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        // Quiet mode lists only the failures; those stay for the next round.
        removed += keys.length - (answer.Errors?.length ?? 0);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return removed;
  }

  private async presigned(id: string, expiresInS: number): Promise<DirectLink | undefined> {
    const meta = await this.head(id);
    if (meta === undefined) return undefined;
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.key(id) });
    return { url: await getSignedUrl(this.client, command, { expiresIn: expiresInS }), meta, expiresInS };
  }

  private async head(id: string): Promise<ArtifactMeta | undefined> {
    if (!isArtifactId(id)) return undefined;
    try {
      const object = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(id) }),
      );
      // Without the bytes at hand, the size the put announced stands in for the hash.
      const size = object.Metadata?.[SIZE];
      if (size === undefined || object.ContentLength !== Number(size)) return undefined;
      return metaOf(object);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  private key(id: string): string {
    return `${this.prefix}${id}`;
  }
}

function metaOf(object: {
  ContentType?: string;
  Metadata?: Record<string, string>;
  LastModified?: Date;
}): ArtifactMeta {
  const createdAt = Number(object.Metadata?.[CREATED_AT]);
  const meta: ArtifactMeta = {
    contentType: object.ContentType ?? 'application/octet-stream',
    createdAt: Number.isFinite(createdAt) ? createdAt : (object.LastModified?.getTime() ?? 0),
  };
  const jobId = object.Metadata?.[JOB_ID];
  if (jobId !== undefined) meta.jobId = jobId;
  return meta;
}

function isMissing(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404;
}
