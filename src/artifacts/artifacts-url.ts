/**
 * ARTIFACTS_URL: empty for the disk store under ARTIFACTS_DIR, or `s3://bucket/prefix` for an S3
 * bucket. Parsed here once, for the configuration check and for the store.
 */
export interface S3Location {
  bucket: string;
  /** Empty, or ends with `/`: object keys are the prefix followed by the artifact id. */
  prefix: string;
}

/** S3's rules for bucket names: 3 to 63 lowercase letters, digits, dots and hyphens. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The bucket and prefix of an `s3://` URL, or the reason it is not one. */
export function parseArtifactsUrl(value: string): S3Location | { problem: string } {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(value);
  if (!match)
    return { problem: 'expected s3://bucket/prefix (or empty for the disk store under ARTIFACTS_DIR)' };
  const bucket = match[1] ?? '';
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    return {
      problem: `"${bucket}" is not an S3 bucket name (3 to 63 lowercase letters, digits, dots, hyphens)`,
    };
  }
  const rawPrefix = (match[2] ?? '').replace(/\/+$/, '');
  if (rawPrefix.split('/').some((part) => part === '' || part === '.' || part === '..') && rawPrefix !== '') {
    return { problem: `the prefix "${rawPrefix}" has an empty, "." or ".." part` };
  }
  return { bucket, prefix: rawPrefix === '' ? '' : `${rawPrefix}/` };
}
