import type { Config } from '../config/schema.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { parseArtifactsUrl } from './artifacts-url.ts';
import { DiskArtifactStore } from './disk-artifact-store.ts';

/**
 * The one place a role chooses its artifact store: S3 when ARTIFACTS_URL is set (every role of a
 * multi-machine deployment must then name the same bucket and prefix), the disk under ARTIFACTS_DIR
 * otherwise. The AWS SDK is loaded only for S3, so a disk-only process never pays for importing it.
 */
export async function artifactStoreFromConfig(config: Config): Promise<ArtifactStore> {
  if (config.ARTIFACTS_URL === '') return new DiskArtifactStore(config.ARTIFACTS_DIR);
  const location = parseArtifactsUrl(config.ARTIFACTS_URL);
  // The schema already refused a malformed URL; this only narrows the type.
  if ('problem' in location) throw new Error(`ARTIFACTS_URL: ${location.problem}`);
  const { createS3Client, S3ArtifactStore } = await import('./s3-artifact-store.ts');
  const client = createS3Client({
    region: config.AWS_REGION,
    ...(config.AWS_ENDPOINT_URL === '' ? {} : { endpoint: config.AWS_ENDPOINT_URL }),
    ...(config.AWS_ACCESS_KEY_ID === undefined ? {} : { accessKeyId: config.AWS_ACCESS_KEY_ID }),
    ...(config.AWS_SECRET_ACCESS_KEY === undefined ? {} : { secretAccessKey: config.AWS_SECRET_ACCESS_KEY }),
  });
  return new S3ArtifactStore(
    location,
    client,
    config.ARTIFACTS_PRESIGN ? { presignExpiresS: config.ARTIFACTS_PRESIGN_EXPIRY_S } : {},
  );
}
