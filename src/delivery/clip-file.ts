import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { shrinkAnimatedWebp } from '../engine/video/encode-clip.ts';
import { CodedError } from '../errors/coded-error.ts';
import type { ClipFile, RenderedClip } from '../queue/job-data.ts';

export interface ClipUpload {
  name: string;
  bytes: Buffer;
  contentType: string;
  /** Made smaller than any stored file to fit the limit. */
  reencoded: boolean;
}

/**
 * The file a platform posts for a clip: the first format in `order` that the worker stored and
 * that fits `limit`; when none fits, the WebP re-encoded smaller. Chat platforms differ only in
 * the order (Discord plays MP4 inline, Slack animates GIFs in the message) and the limit.
 */
export async function clipUpload(
  artifacts: ArtifactStore,
  clip: RenderedClip,
  baseName: string,
  order: readonly ClipFile['format'][],
  limit = Number.POSITIVE_INFINITY,
): Promise<ClipUpload> {
  const read = async (file: ClipFile) => {
    const stored = await artifacts.get(file.artifactId);
    // Gone (swept, or lost with a disk): no retry brings it back.
    if (!stored) throw new CodedError('image-invalid', `artifact ${file.artifactId} is missing`);
    return stored.bytes;
  };
  const candidates = order
    .map((format) => clip.files.find((f) => f.format === format))
    .filter((f): f is ClipFile => f !== undefined);
  for (const file of candidates) {
    if (file.bytes <= limit) {
      return {
        name: `${baseName}.${file.format}`,
        bytes: await read(file),
        contentType: file.contentType,
        reencoded: false,
      };
    }
  }
  const webp = clip.files.find((f) => f.format === 'webp');
  const smaller = webp === undefined ? undefined : await shrinkAnimatedWebp(await read(webp), limit);
  if (smaller === undefined) {
    throw new CodedError('image-invalid', `the clip does not fit within ${limit} bytes in any format`);
  }
  return { name: `${baseName}.webp`, bytes: smaller, contentType: 'image/webp', reencoded: true };
}
